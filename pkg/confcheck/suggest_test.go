package confcheck

import "testing"

func TestSuggest(t *testing.T) {
	t.Parallel()
	plugins := []string{"Capacity", "DataLocality", "Healthy", "LeastLoaded", "RegionAffinity", "Weight"}
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"LeastLoad", plugins, "LeastLoaded"},
		{"leastloaded", plugins, "LeastLoaded"},
		{"HEALTHY", plugins, "Healthy"},
		{"Capcity", plugins, "Capacity"},
		{"RegionAfinity", plugins, "RegionAffinity"},
		{"Wieght", plugins, "Weight"},
		{"X", plugins, ""},
		{"TotallyDifferent", plugins, ""},
		{"", plugins, ""},
		{"Healthy", nil, ""},
		// Within max(2, len/3) edits: "ab" is 2 edits from "xy"…
		{"ab", []string{"xy"}, "xy"},
		// …and "abc" 3 from "xyz".
		{"abc", []string{"xyz"}, ""},
		// The closest wins, and of equally close ones the first.
		{"user", []string{"users", "user1", "usr", "user"}, "user"},
		{"usera", []string{"users", "user1"}, "users"},
		{"usera", []string{"user1", "users"}, "user1"},
		{string(make([]byte, 1000)), plugins, ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.name, tt.candidates); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.name, tt.candidates, got, tt.want)
		}
	}
}

func TestSuggestWithin(t *testing.T) {
	t.Parallel()
	third := func(c string) int { return min(4, len(c)/3) }
	fields := []string{"id", "user", "group", "hardConcurrencyLimit", "schedulingWeight"}
	tests := []struct {
		name   string
		within func(string) int
		want   string
	}{
		{"users", third, "user"},
		{"ID", third, "id"},
		{"xd", third, ""}, // "id" takes no typo at all
		{"hardConcurencyLimit", third, "hardConcurrencyLimit"},
		{"hardLimit", third, ""},
		{"schedulingWieght", third, "schedulingWeight"},
		{"grp", func(string) int { return 2 }, "group"},
		{"grp", func(string) int { return 1 }, ""},
		{"group", func(string) int { return -1 }, ""},
	}
	for _, tt := range tests {
		if got := SuggestWithin(tt.name, fields, tt.within); got != tt.want {
			t.Errorf("SuggestWithin(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
		{"same", "same", 0},
		{"ab", "ba", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}
