package rgspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// UserGroups maps a user to the groups it belongs to (each list sorted, without
// duplicates), as read from a file in the format of Trino's file group provider.
type UserGroups map[string][]string

// ParseUserGroups reads a file in the format of Trino's file group provider
// (group-provider.name=file): one group per line, "group_name:user_1,user_2,user_3".
// Lines are trimmed; blank lines and lines starting with # are ignored; the group name is
// the text before the first ':'; user names are trimmed and empty ones skipped. A group
// may appear on several lines. Errors name every bad line, e.g. "line 3: missing ':'".
// Unlike Trino, an empty group name (":alice") is an error.
func ParseUserGroups(data []byte) (UserGroups, error) {
	sets := map[string]map[string]bool{}
	var errs []string
	for n, raw := range splitLines(string(data)) {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		group, users, ok := strings.Cut(line, ":")
		if !ok {
			errs = append(errs, fmt.Sprintf("line %d: missing ':'", n+1))
			continue
		}
		group = strings.TrimSpace(group)
		if group == "" {
			errs = append(errs, fmt.Sprintf("line %d: empty group name", n+1))
			continue
		}
		for _, u := range strings.Split(users, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			if sets[u] == nil {
				sets[u] = map[string]bool{}
			}
			sets[u][group] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	out := make(UserGroups, len(sets))
	for u, gs := range sets {
		list := make([]string, 0, len(gs))
		for g := range gs {
			list = append(list, g)
		}
		sort.Strings(list)
		out[u] = list
	}
	return out, nil
}

// splitLines splits on \n, \r\n and \r, as Java's Files.readAllLines does.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

// GroupsOf returns the user's groups, sorted; nil when the user is in none. The slice is
// a copy.
func (u UserGroups) GroupsOf(user string) []string {
	gs := u[user]
	if len(gs) == 0 {
		return nil
	}
	return append([]string(nil), gs...)
}
