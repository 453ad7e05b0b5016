package confcheck

import "strings"

// Suggest returns the candidate closest to name by edit distance, ignoring case, or ""
// when none is within max(2, len(name)/3) edits and so is not a likely typo. Of equally
// close candidates the first wins.
func Suggest(name string, candidates []string) string {
	limit := max(2, len(name)/3)
	return SuggestWithin(name, candidates, func(string) int { return limit })
}

// SuggestWithin is Suggest with the largest distance still taken for a typo given by
// within, which is called with each candidate.
func SuggestWithin(name string, candidates []string, within func(candidate string) int) string {
	best, bestDist := "", -1
	lname := strings.ToLower(name)
	for _, c := range candidates {
		limit := within(c)
		lc := strings.ToLower(c)
		if abs(len(lname)-len(lc)) > limit {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(lname, lc); d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, over bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
