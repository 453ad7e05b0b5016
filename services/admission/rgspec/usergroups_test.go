package rgspec

import (
	"reflect"
	"testing"
)

func TestParseUserGroups(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    UserGroups
		wantErr string
	}{
		{"basic", "admins:alice,bob\nanalysts:bob,carol\n",
			UserGroups{"alice": {"admins"}, "bob": {"admins", "analysts"}, "carol": {"analysts"}}, ""},
		{"comments, blanks, spaces, CRLF, repeats",
			"# groups\r\n\r\n  zeta : dave , , erin  \r\n alpha:dave\r\nzeta:dave\r\n   # indented comment\n",
			UserGroups{"dave": {"alpha", "zeta"}, "erin": {"zeta"}}, ""},
		{"group without users", "empty:\nx:y", UserGroups{"y": {"x"}}, ""},
		{"colon in the user part", "g:a:b", UserGroups{"a:b": {"g"}}, ""},
		{"empty file", "", UserGroups{}, ""},
		{"old Mac line ends", "a:x\rb:x", UserGroups{"x": {"a", "b"}}, ""},
		{"missing colon", "a:x\n\nbroken line\n", nil, "line 3: missing ':'"},
		{"every bad line", "nocolon\n:alice\nok:bob\nalso bad", nil, "line 1: missing ':'; line 2: empty group name; line 4: missing ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUserGroups([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGroupsOf(t *testing.T) {
	u, err := ParseUserGroups([]byte("b:alice\na:alice\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := u.GroupsOf("alice")
	if !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("GroupsOf = %v", got)
	}
	got[0] = "changed"
	if u.GroupsOf("alice")[0] != "a" {
		t.Error("GroupsOf returned the map's own slice")
	}
	if g := u.GroupsOf("nobody"); g != nil {
		t.Errorf("GroupsOf(nobody) = %v", g)
	}
	var none UserGroups
	if g := none.GroupsOf("alice"); g != nil {
		t.Errorf("nil map: %v", g)
	}
}
