package rgspec

import (
	"reflect"
	"testing"
)

type selectCase struct {
	name     string
	in       Input
	want     string // GroupIDString of the ID; "" for no selection
	selector int
}

func runSelect(t *testing.T, cfg *Config, tests []selectCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, ok := cfg.Select(tt.in)
			if tt.want == "" {
				if ok {
					t.Fatalf("Select = %v (selector %d), want no match", sel.ID, sel.Selector)
				}
				return
			}
			if !ok {
				t.Fatalf("Select: no match, want %s", tt.want)
			}
			if got := GroupIDString(sel.ID); got != tt.want || sel.Selector != tt.selector {
				t.Fatalf("Select = %s (selector %d), want %s (selector %d)", got, sel.Selector, tt.want, tt.selector)
			}
			if len(sel.Specs) != len(sel.ID) || !sel.Specs[len(sel.Specs)-1].IsLeaf() {
				t.Fatalf("Specs = %d for ID %v", len(sel.Specs), sel.ID)
			}
			for i, s := range sel.Specs {
				if !s.IsTemplate() && s.Name != sel.ID[i] {
					t.Fatalf("segment %d: spec %q for %q", i, s.Name, sel.ID[i])
				}
			}
		})
	}
}

func TestSelectSluiceExample(t *testing.T) {
	cfg := mustParseFile(t, "sluice-example.json")
	runSelect(t, cfg, []selectCase{
		{"plain user", Input{User: "alice", QueryType: "SELECT"}, "global.adhoc.alice", 2},
		{"tableau", Input{User: "bob", Source: "tableau"}, "global.bi-tableau", 1},
		{"superset", Input{User: "bob", Source: "superset"}, "global.bi-superset", 1},
		{"source must match fully", Input{User: "bob", Source: "tableau-desktop"}, "global.adhoc.bob", 2},
		{"airflow insert", Input{User: "etl", Source: "airflow", QueryType: "INSERT"}, "global.etl", 0},
		{"airflow select falls through", Input{User: "etl", Source: "airflow", QueryType: "SELECT"}, "global.adhoc.etl", 2},
		{"airflow, unknown type", Input{User: "etl", Source: "airflow"}, "global.adhoc.etl", 2},
		{"dots in a user name are kept", Input{User: "first.last"}, "global.adhoc.first.last", 2},
		{"empty user cannot make a group", Input{User: ""}, "", 0},
	})
	sel, _ := cfg.Select(Input{User: "alice"})
	if !reflect.DeepEqual(sel.ID, []string{"global", "adhoc", "alice"}) {
		t.Errorf("ID = %q", sel.ID)
	}
	want := []*GroupSpec{find(t, cfg, "global"), find(t, cfg, "global.adhoc"), find(t, cfg, "global.adhoc.${USER}")}
	if !reflect.DeepEqual(sel.Specs, want) {
		t.Errorf("Specs differ")
	}
	sel, _ = cfg.Select(Input{User: "first.last"})
	if len(sel.ID) != 3 || sel.ID[2] != "first.last" {
		t.Errorf("ID = %q", sel.ID)
	}
}

func TestSelectTrinoExample(t *testing.T) {
	cfg := mustParseFile(t, "trino-example.json")
	groups, err := ParseUserGroups([]byte("ops: dave, erin\nanalysts: dave\n"))
	if err != nil {
		t.Fatal(err)
	}
	runSelect(t, cfg, []selectCase{
		{"user", Input{User: "carol", Source: "odbc#x", ClientTags: []string{"urgent"}}, "ops", 0},
		{"original user", Input{User: "frank", OriginalUser: "carol"}, "ops", 1},
		{"original user defaults to user", Input{User: "carol"}, "ops", 0},
		{"authenticated user", Input{User: "frank", AuthenticatedUser: "carol"}, "ops", 2},
		{"user group", Input{User: "dave", UserGroups: groups.GroupsOf("dave")}, "ops", 3},
		{"user group, not a member", Input{User: "frank", UserGroups: groups.GroupsOf("frank")}, "cluster.interactive.misc.frank", 7},
		{"batch DDL", Input{User: "gina", Source: "nightly-batch", QueryType: "DATA_DEFINITION"}, "cluster.ddl", 4},
		{"batch query", Input{User: "gina", Source: "nightly-batch", QueryType: "INSERT"}, "cluster.batch.batch_gina", 5},
		{"dashboard with tag", Input{User: "hank", Source: "odbc#looker", ClientTags: []string{"fast", "urgent"}}, "cluster.interactive.dash-looker.hank", 6},
		{"dashboard without tag", Input{User: "hank", Source: "odbc#looker", ClientTags: []string{"fast"}}, "cluster.interactive.misc.hank", 7},
		{"empty capture makes dash-", Input{User: "hank", Source: "odbc#", ClientTags: []string{"urgent"}}, "cluster.interactive.dash-.hank", 6},
	})
}

func TestSelectPrestoExample(t *testing.T) {
	cfg := mustParseFile(t, "presto-example.json")
	runSelect(t, cfg, []selectCase{
		{"small estimate", Input{User: "u", ResourceEstimate: map[string]string{"EXECUTION_TIME": "4m", "PEAK_MEMORY": "512MB"}}, "root.small", 0},
		{"bounds are inclusive", Input{User: "u", ResourceEstimate: map[string]string{"execution_time": "5m", "PEAK_MEMORY": "1GB"}}, "root.small", 0},
		{"too long", Input{User: "u", ResourceEstimate: map[string]string{"EXECUTION_TIME": "6m", "PEAK_MEMORY": "512MB"}}, "root.default", 4},
		{"missing dimension does not match", Input{User: "u", ResourceEstimate: map[string]string{"EXECUTION_TIME": "1m"}}, "root.default", 4},
		{"malformed estimate is absent", Input{User: "u", ResourceEstimate: map[string]string{"EXECUTION_TIME": "soon", "PEAK_MEMORY": "1MB"}}, "root.default", 4},
		{"large cpu", Input{User: "u", ResourceEstimate: map[string]string{"CPU_TIME": "2h"}}, "root.large", 1},
		{"client info capture", Input{User: "u", ClientInfo: "team=growth"}, "root.reports-growth", 2},
		{"client info must match fully", Input{User: "u", ClientInfo: "team=growth;x"}, "root.default", 4},
		{"principal and schema", Input{User: "u", Principal: "svc-etl@EXAMPLE.COM", Schema: "prod"}, "root.svc", 3},
		{"schema absent", Input{User: "u", Principal: "svc-etl@EXAMPLE.COM"}, "root.default", 4},
	})
}

func TestSelectSemantics(t *testing.T) {
	groups := `{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [
		{"name": "first", "maxQueued": 1, "hardConcurrencyLimit": 1},
		{"name": "second", "maxQueued": 1, "hardConcurrencyLimit": 1},
		{"name": "src-${SOURCE}", "maxQueued": 1, "hardConcurrencyLimit": 1},
		{"name": "t-${team}", "maxQueued": 1, "hardConcurrencyLimit": 1},
		{"name": "${a}${b}", "maxQueued": 1, "hardConcurrencyLimit": 1},
		{"name": "${x}", "maxQueued": 1, "hardConcurrencyLimit": 1}]}`
	cfg, err := Parse([]byte(cfgJSON(groups, `
		{"user": "(?i)ALICE", "group": "g.first"},
		{"user": "alice|bob", "group": "g.second"},
		{"clientTags": ["a", "b"], "group": "g.src-${SOURCE}"},
		{"userGroup": "team-(?<team>[a-z]+)", "group": "g.t-${team}"},
		{"user": "(?<a>x)?(?<b>y)", "group": "g.${a}${b}"},
		{"user": "opt-(?<x>z)?", "group": "g.${x}"},
		{"queryText": "(?s)\\s*SELECT 1\\s*", "group": "g.first"}`)))
	if err != nil {
		t.Fatal(err)
	}
	runSelect(t, cfg, []selectCase{
		{"first match wins", Input{User: "alice"}, "g.first", 0},
		{"regex flags", Input{User: "Alice"}, "g.first", 0},
		{"second", Input{User: "bob"}, "g.second", 1},
		{"all tags needed, ${SOURCE} empty when absent", Input{User: "carl", ClientTags: []string{"b", "a", "c"}}, "g.src-", 2},
		{"all tags", Input{User: "carl", Source: "cli", ClientTags: []string{"b", "a", "c"}}, "g.src-cli", 2},
		{"one tag missing", Input{User: "carl", ClientTags: []string{"a"}}, "", 0},
		{"user group capture, first matching group", Input{User: "carl", UserGroups: []string{"admins", "team-data", "team-web"}}, "g.t-data", 3},
		{"captures", Input{User: "xy"}, "g.xy", 4},
		{"a capture that took no part fails the selection", Input{User: "y"}, "", 0},
		{"unset capture fails the selection", Input{User: "opt-"}, "", 0},
		{"capture set", Input{User: "opt-z"}, "g.z", 5},
		{"query text", Input{User: "dora", QueryText: "\n SELECT 1\n"}, "g.first", 6},
		{"nothing matches", Input{User: "dora", QueryText: "SELECT 2"}, "", 0},
	})
}

func TestGroupIDString(t *testing.T) {
	if got := GroupIDString([]string{"global", "adhoc", "alice"}); got != "global.adhoc.alice" {
		t.Errorf("GroupIDString = %q", got)
	}
	if got := GroupIDString(nil); got != "" {
		t.Errorf("GroupIDString(nil) = %q", got)
	}
}
