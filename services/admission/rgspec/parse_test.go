package rgspec

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParseFile(t *testing.T, name string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return cfg
}

// find returns the group at a dotted path of raw names.
func find(t *testing.T, cfg *Config, path string) *GroupSpec {
	t.Helper()
	groups := cfg.RootGroups
	var g *GroupSpec
	for _, name := range strings.Split(path, ".") {
		g = nil
		for _, c := range groups {
			if c.Name == name {
				g = c
			}
		}
		if g == nil {
			t.Fatalf("no group %q", path)
		}
		groups = g.SubGroups
	}
	return g
}

func TestParseSluiceExample(t *testing.T) {
	// testdata/sluice-example.json is the example of the resource-groups reference
	// document (§1.2), verbatim.
	cfg := mustParseFile(t, "sluice-example.json")
	if cfg.CPUQuotaPeriod != time.Hour {
		t.Errorf("CPUQuotaPeriod = %v", cfg.CPUQuotaPeriod)
	}
	global := find(t, cfg, "global")
	want := GroupSpec{Name: "global", MaxQueued: 2000, HardConcurrencyLimit: 120, SoftConcurrencyLimit: 120,
		SoftMemoryLimit: MemoryLimit{Fraction: 0.85, IsFraction: true, Set: true}, SchedulingPolicy: PolicyWeightedFair,
		SchedulingWeight: 1, Path: "rootGroups[0]"}
	got := *global
	got.SubGroups = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("global =\n%+v\nwant\n%+v", got, want)
	}
	etl := find(t, cfg, "global.etl")
	if etl.SchedulingPolicy != PolicyQueryPriority || etl.SchedulingWeight != 4 || etl.SoftCPULimit != 40*time.Hour ||
		etl.HardCPULimit != 50*time.Hour || etl.Path != "rootGroups[0].subGroups[0]" || !etl.IsLeaf() {
		t.Errorf("etl = %+v", etl)
	}
	bi := find(t, cfg, "global.bi-${toolname}")
	if !bi.IsTemplate() || bi.SoftConcurrencyLimit != 10 || bi.HardConcurrencyLimit != 20 || bi.SchedulingPolicy != "" {
		t.Errorf("bi = %+v", bi)
	}
	user := find(t, cfg, "global.adhoc.${USER}")
	if !user.IsTemplate() || user.SoftMemoryLimit.Fraction != 0.05 || user.Path != "rootGroups[0].subGroups[2].subGroups[0]" {
		t.Errorf("${USER} = %+v", user)
	}
	if find(t, cfg, "global.adhoc").IsTemplate() {
		t.Error("adhoc is not a template")
	}
	if len(cfg.Selectors) != 3 {
		t.Fatalf("%d selectors", len(cfg.Selectors))
	}
	s0 := cfg.Selectors[0]
	if s0.QueryType != "INSERT" || s0.Source == nil || s0.User != nil || s0.Group != "global.etl" || s0.Path != "selectors[0]" || s0.Index != 0 {
		t.Errorf("selector 0 = %+v", s0)
	}
	if !s0.Source.MatchString("airflow") || s0.Source.MatchString("airflow2") || s0.Source.MatchString("my-airflow") {
		t.Error("selector regexes must match the whole value")
	}
}

func TestParseTrinoExample(t *testing.T) {
	// The structure of Trino's documented example (resource-groups-example.json), with
	// other names and values.
	cfg := mustParseFile(t, "trino-example.json")
	if len(cfg.RootGroups) != 2 || len(cfg.Selectors) != 8 {
		t.Fatalf("%d roots, %d selectors", len(cfg.RootGroups), len(cfg.Selectors))
	}
	root := find(t, cfg, "cluster")
	if !root.JMXExport || root.SchedulingPolicy != PolicyWeighted || !reflect.DeepEqual(root.Unenforced, []string{"hardPhysicalDataScanLimit"}) {
		t.Errorf("cluster = %+v", root)
	}
	if !reflect.DeepEqual(cfg.Unenforced, []string{"physicalDataScanQuotaPeriod"}) {
		t.Errorf("Config.Unenforced = %v", cfg.Unenforced)
	}
	if ops := find(t, cfg, "ops"); ops.SoftMemoryLimit.Fraction != 1 || ops.SchedulingPolicy != PolicyQueryPriority {
		t.Errorf("ops = %+v", ops)
	}
	s := cfg.Selectors[6]
	if s.Source == nil || !reflect.DeepEqual(s.ClientTags, []string{"urgent"}) || s.Group != "cluster.interactive.dash-${tool}.${USER}" {
		t.Errorf("selector 6 = %+v", s)
	}
	if cfg.Selectors[1].OriginalUser == nil || cfg.Selectors[2].AuthenticatedUser == nil || cfg.Selectors[3].UserGroup == nil {
		t.Error("originalUser, authenticatedUser and userGroup selectors not read")
	}
}

func TestParsePrestoExample(t *testing.T) {
	cfg := mustParseFile(t, "presto-example.json")
	root := find(t, cfg, "root")
	if root.HardConcurrencyLimit != 50 || root.SchedulingPolicy != PolicyWeighted || root.SoftMemoryLimit.Bytes != 1<<40 {
		t.Errorf("root = %+v", root)
	}
	small := find(t, cfg, "root.small")
	if !reflect.DeepEqual(small.Unenforced, []string{"perQueryLimits", "workersPerQueryLimit"}) || small.SoftConcurrencyLimit != 20 {
		t.Errorf("small = %+v", small)
	}
	if large := find(t, cfg, "root.large"); large.SoftMemoryLimit.Bytes != 2<<50 {
		t.Errorf("large softMemoryLimit = %d", large.SoftMemoryLimit.Bytes)
	}
	s0 := cfg.Selectors[0]
	if s0.ExecutionTime == nil || s0.ExecutionTime.Min != nil || *s0.ExecutionTime.Max != 5*60*1000 ||
		s0.PeakMemory == nil || *s0.PeakMemory.Max != 1<<30 || s0.CPUTime != nil {
		t.Errorf("selector 0 estimate = %+v %+v %+v", s0.ExecutionTime, s0.CPUTime, s0.PeakMemory)
	}
	if cfg.Selectors[2].ClientInfo == nil || cfg.Selectors[3].Principal == nil || cfg.Selectors[3].Schema == nil {
		t.Error("clientInfo, principal and schema selectors not read")
	}
}

// cfgJSON wraps groups and selectors into a file.
func cfgJSON(groups, selectors string) string {
	return `{"rootGroups": [` + groups + `], "selectors": [` + selectors + `]}`
}

const leaf = `{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1}`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"negative hardConcurrencyLimit, nested",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1},
				{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [
					{"name": "c", "maxQueued": 1, "hardConcurrencyLimit": -1}]}`, ``),
			[]string{"rootGroups[1].subGroups[0].hardConcurrencyLimit: must be >= 0"}},
		{"several errors at once",
			cfgJSON(`{"name": "a", "maxQueued": -1, "hardConcurrencyLimit": 1, "schedulingWeight": 0, "schedulingPolicy": "fifo"},
				{"name": "b", "maxQueued": "10", "maxRunning": 1.5}`, `{"group": "nope"}`),
			[]string{
				"rootGroups[0].maxQueued: must be >= 0",
				`rootGroups[0].schedulingPolicy: must be one of fair, weighted, weighted_fair, query_priority (got "fifo")`,
				"rootGroups[0].schedulingWeight: must be > 0",
				"rootGroups[1].maxQueued: must be an integer",
				"rootGroups[1].maxRunning: must be an integer",
				`selectors[0].group: no group "nope": there is no root group "nope"`,
			}},
		{"unknown group field (typo)",
			cfgJSON(`{"name": "g", "maxQueued": 1, "hardConcurencyLimit": 1}`, ``),
			[]string{
				`rootGroups[0].hardConcurencyLimit: unknown field (did you mean "hardConcurrencyLimit"?)`,
				"rootGroups[0].hardConcurrencyLimit: is required (or its deprecated alias maxRunning)",
			}},
		{"unknown top-level and selector fields",
			`{"rootGroups": [` + leaf + `], "selectors": [{"group": "g", "users": "x", "color": 1}], "extra": true}`,
			[]string{
				"extra: unknown field",
				`selectors[0].color: unknown field`,
				`selectors[0].users: unknown field (did you mean "user"?)`,
			}},
		{"bad regexes",
			cfgJSON(leaf, `{"source": "(?!internal).*", "group": "g"}, {"user": "(unclosed", "group": "g"}, {"userGroup": 7, "group": "g"}`),
			[]string{
				"selectors[0].source: invalid regex: invalid or unsupported Perl syntax: `(?!`",
				"selectors[1].user: invalid regex: missing closing ): `(unclosed`",
				"selectors[2].userGroup: must be a string",
			}},
		{"selector to a group with sub-groups",
			cfgJSON(`{"name": "global", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [`+leaf+`]}`, `{"group": "global"}`),
			[]string{`selectors[0].group: group "global" has sub-groups; a selector must name a leaf group`}},
		{"selector to nonexistent groups",
			cfgJSON(`{"name": "global", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [`+leaf+`]}`,
				`{"group": "global.h"}, {"group": "global.g.x"}, {"group": "global..g"}, {}`),
			[]string{
				`selectors[0].group: no group "global.h": "global" has no sub-group "h"`,
				`selectors[1].group: no group "global.g.x": "global.g" has no sub-group "x"`,
				`selectors[2].group: segment 2 of "global..g": must not be empty`,
				`selectors[3].group: is required`,
			}},
		{"softConcurrencyLimit above hardConcurrencyLimit",
			cfgJSON(`{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 5, "softConcurrencyLimit": 6}`, ``),
			[]string{"rootGroups[0].softConcurrencyLimit: must be <= hardConcurrencyLimit (5)"}},
		{"softCpuLimit without hardCpuLimit",
			`{"cpuQuotaPeriod": "1h", "rootGroups": [{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1, "softCpuLimit": "1h"}], "selectors": []}`,
			[]string{"rootGroups[0].softCpuLimit: requires hardCpuLimit"}},
		{"softCpuLimit above hardCpuLimit",
			`{"cpuQuotaPeriod": "1h", "rootGroups": [{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1, "softCpuLimit": "2h", "hardCpuLimit": "90m"}], "selectors": []}`,
			[]string{`rootGroups[0].softCpuLimit: must be <= hardCpuLimit (90m)`}},
		{"CPU limits without cpuQuotaPeriod",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "hardCpuLimit": "1h"},
				{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "softCpuLimit": "1h", "hardCpuLimit": "2h"}`, ``),
			[]string{
				"rootGroups[0].hardCpuLimit: requires the top-level cpuQuotaPeriod",
				"rootGroups[1].softCpuLimit: requires the top-level cpuQuotaPeriod",
			}},
		{"bad durations",
			`{"cpuQuotaPeriod": "0s", "rootGroups": [{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1, "hardCpuLimit": "1 hour"}], "selectors": []}`,
			[]string{
				"cpuQuotaPeriod: must be > 0",
				`rootGroups[0].hardCpuLimit: must be a duration such as "1h", "30m" or "100ms" (got "1 hour")`,
			}},
		{"query_priority forced on descendants",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "query_priority", "subGroups": [
					{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [
						{"name": "c", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "fair"},
						{"name": "d", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "QUERY_PRIORITY"}]}]}`, ``),
			[]string{"rootGroups[0].subGroups[0].subGroups[0].schedulingPolicy: must be query_priority because rootGroups[0] uses query_priority"}},
		{"JSON types",
			cfgJSON(`{"name": 5, "maxQueued": 1.0, "hardConcurrencyLimit": 3000000000, "jmxExport": "true", "softMemoryLimit": 10, "subGroups": {}}`,
				`{"group": ["g"], "clientTags": ["a", 1], "queryType": 1}`),
			[]string{
				"rootGroups[0].name: must be a string",
				"rootGroups[0].hardConcurrencyLimit: must be an integer between -2147483648 and 2147483647",
				"rootGroups[0].softMemoryLimit: must be a string",
				"rootGroups[0].jmxExport: must be a boolean",
				"rootGroups[0].subGroups: must be an array",
				"selectors[0].queryType: must be a string",
				"selectors[0].clientTags[1]: must be a string",
				"selectors[0].group: must be a string",
			}},
		{"names",
			cfgJSON(`{"name": "a.b", "maxQueued": 1, "hardConcurrencyLimit": 1},
				{"name": "", "maxQueued": 1, "hardConcurrencyLimit": 1},
				{"name": "x-${a_b}", "maxQueued": 1, "hardConcurrencyLimit": 1},
				{"maxQueued": 1, "hardConcurrencyLimit": 1}`, ``),
			[]string{
				`rootGroups[0].name: must not contain '.' (got "a.b")`,
				`rootGroups[1].name: must not be empty`,
				`rootGroups[2].name: "x-${a_b}" has a '$', '{' or '}' outside a ${VARIABLE} reference (variable names are a letter followed by letters and digits)`,
				`rootGroups[3].name: is required`,
			}},
		{"duplicate names",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "subGroups": [`+leaf+`, `+leaf+`]}, `+
				`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1}`, ``),
			[]string{
				`rootGroups[0].subGroups[1].name: duplicate sibling name "g" (also at rootGroups[0].subGroups[0])`,
				`rootGroups[1].name: duplicate root group name "a" (also at rootGroups[0])`,
			}},
		{"template variables",
			cfgJSON(`{"name": "${x}", "maxQueued": 1, "hardConcurrencyLimit": 1}, {"name": "u-${USER}", "maxQueued": 1, "hardConcurrencyLimit": 1}`,
				`{"group": "${x}"},
				 {"source": "(?<x>.*)", "group": "${x}"},
				 {"user": "(?<USER>.*)", "group": "u-${USER}"},
				 {"user": "(?<x>.*)", "source": "(?<x>.*)", "group": "${x}"},
				 {"user": "(?<x>a)|(?<x>b)", "group": "${x}"}`),
			[]string{
				`selectors[0].group: unknown variable ${x} in "${x}" (available: ${USER}, ${SOURCE})`,
				`selectors[2].user: named group "USER" clashes with the built-in variable ${USER}`,
				`selectors[3].source: named group "x" is already defined by selectors[3].user`,
				`selectors[4].user: invalid regex: named group "x" is defined more than once`,
			}},
		{"hardConcurrencyLimit and maxRunning",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 2, "maxRunning": 3},
				{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 2, "maxRunning": 2},
				{"name": "c", "maxQueued": 1, "maxRunning": -2}`, ``),
			[]string{
				"rootGroups[0].maxRunning: give hardConcurrencyLimit or maxRunning, not both (they differ: 2 and 3)",
				"rootGroups[2].maxRunning: must be >= 0",
			}},
		{"required group fields",
			cfgJSON(`{"name": "a"}`, ``),
			[]string{
				"rootGroups[0].maxQueued: is required",
				"rootGroups[0].hardConcurrencyLimit: is required (or its deprecated alias maxRunning)",
			}},
		{"queryType",
			cfgJSON(leaf, `{"queryType": "select", "group": "g"}, {"queryType": "QUERY", "group": "g"}`),
			[]string{`selectors[1].queryType: must be one of SELECT, EXPLAIN, DESCRIBE, INSERT, UPDATE, DELETE, ANALYZE, DATA_DEFINITION, ALTER_TABLE_EXECUTE, MERGE (got "QUERY")`}},
		{"softMemoryLimit",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "softMemoryLimit": "150%"},
				{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "softMemoryLimit": "100"},
				{"name": "c", "maxQueued": 1, "hardConcurrencyLimit": 1, "softMemoryLimit": "-5%"},
				{"name": "d", "maxQueued": 1, "hardConcurrencyLimit": 1, "softMemoryLimit": "10 gigs"}`, ``),
			[]string{
				`rootGroups[0].softMemoryLimit: percentage "150%" is over 100%`,
				`rootGroups[1].softMemoryLimit: must be a data size such as "10GB" or a percentage such as "85%": data size "100" has no unit (B, kB, MB, GB, TB, PB)`,
				`rootGroups[2].softMemoryLimit: invalid percentage "-5%" (want e.g. "85%" or "12.5%")`,
				`rootGroups[3].softMemoryLimit: must be a data size such as "10GB" or a percentage such as "85%": invalid data size "10 gigs": unknown unit "gigs"`,
			}},
		{"top level",
			`{"rootGroups": []}`,
			[]string{"rootGroups: must not be empty", "selectors: is required"}},
		{"not an object", `[1, 2]`, []string{"the document must be a JSON object, not an array"}},
		{"missing rootGroups", `{"selectors": null}`, []string{"rootGroups: is required", "selectors: is required"}},
		{"resource estimates and Presto extras",
			cfgJSON(`{"name": "g", "maxQueued": 1, "hardConcurrencyLimit": 1, "perQueryLimits": {"cpuLimit": "1h", "totalMemoryLimit": "lots"},
					"workersPerQueryLimit": -1, "softPhysicalDataScanLimit": "1%", "id": true}`,
				`{"selectorResourceEstimate": {"executionTime": {"min": "fast"}, "peakMemory": {"max": 5, "avg": "1GB"}, "rows": {}}, "group": "g"}`),
			[]string{
				`rootGroups[0].id: must be a number or a string`,
				`rootGroups[0].softPhysicalDataScanLimit: must be a data size such as "512MB" or "10GB" (got "1%")`,
				`rootGroups[0].perQueryLimits.cpuLimit: unknown field (did you mean "cpuTimeLimit"?)`,
				`rootGroups[0].perQueryLimits.totalMemoryLimit: must be a data size such as "512MB" or "10GB" (got "lots")`,
				`rootGroups[0].workersPerQueryLimit: must be >= 0`,
				`selectors[0].selectorResourceEstimate.rows: unknown field`,
				`selectors[0].selectorResourceEstimate.executionTime.min: must be a duration such as "1h", "30m" or "100ms" (got "fast")`,
				`selectors[0].selectorResourceEstimate.peakMemory.avg: unknown field`,
				`selectors[0].selectorResourceEstimate.peakMemory.max: must be a string`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError: %v", err, err)
			}
			var got []string
			for _, fe := range ve.Errors {
				got = append(got, fe.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if ve.Error() != strings.Join(tt.want, "; ") {
				t.Errorf("Error() = %q", ve.Error())
			}
		})
	}
}

func TestParseFieldErrorPath(t *testing.T) {
	_, err := Parse([]byte(cfgJSON(`{"name": "g", "maxQueued": -3, "hardConcurrencyLimit": 1}`, ``)))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("err = %v", err)
	}
	if fe := ve.Errors[0]; fe.Path != "rootGroups[0].maxQueued" || fe.Message != "must be >= 0" {
		t.Errorf("FieldError = %+v", fe)
	}
}

func TestParseMalformedJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\n  \"rootGroups\": [\n    {\"name\": \"g\",}\n  ]\n}", "invalid JSON at line 3, column 18: invalid character '}' looking for beginning of object key string"},
		{`{"rootGroups": [`, "invalid JSON at line 1, column 17: unexpected end of input"},
		{"  \n ", "invalid JSON: the document is empty"},
		{"{}\n{}", "invalid JSON at line 2, column 1: unexpected data after the top-level value"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, cfg *Config)
	}{
		{"nulls are absent, selectors may be empty, equal hard and maxRunning",
			cfgJSON(`{"name": "g", "maxQueued": 1e1, "hardConcurrencyLimit": 4, "maxRunning": 4, "softMemoryLimit": null, "schedulingWeight": null}`, ``),
			func(t *testing.T, cfg *Config) {
				g := cfg.RootGroups[0]
				if g.MaxQueued != 10 || g.HardConcurrencyLimit != 4 || g.SoftMemoryLimit.Set || g.SchedulingWeight != 1 || len(cfg.Selectors) != 0 {
					t.Errorf("g = %+v", g)
				}
			}},
		{"case-insensitive policy and queryType, data sizes",
			cfgJSON(`{"name": "g", "maxQueued": 0, "hardConcurrencyLimit": 0, "schedulingPolicy": "Weighted_Fair", "softMemoryLimit": "1.5GB"}`,
				`{"queryType": "data_definition", "group": "g"}`),
			func(t *testing.T, cfg *Config) {
				g := cfg.RootGroups[0]
				if g.SchedulingPolicy != PolicyWeightedFair || g.SoftMemoryLimit.Bytes != 3<<29 || g.SoftMemoryLimit.IsFraction {
					t.Errorf("g = %+v", g)
				}
				if cfg.Selectors[0].QueryType != "DATA_DEFINITION" {
					t.Errorf("queryType = %q", cfg.Selectors[0].QueryType)
				}
			}},
		{"weights on some siblings only, weights under fair (Trino rejects both)",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "weighted", "subGroups": [
					{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingWeight": 3},
					{"name": "c", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "fair", "subGroups": [
						{"name": "d", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingWeight": 2}]}]}`, ``),
			func(t *testing.T, cfg *Config) {
				if w := find(t, cfg, "a.c").SchedulingWeight; w != 1 {
					t.Errorf("default weight = %d", w)
				}
			}},
		{"query_priority descendants may repeat it",
			cfgJSON(`{"name": "a", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "query_priority", "subGroups": [
					{"name": "b", "maxQueued": 1, "hardConcurrencyLimit": 1, "schedulingPolicy": "query_priority"}, `+leaf+`]}`, `{"group": "a.g"}`),
			nil},
		{"sibling templates", cfgJSON(`{"name": "${USER}", "maxQueued": 1, "hardConcurrencyLimit": 1},
				{"name": "${SOURCE}", "maxQueued": 1, "hardConcurrencyLimit": 1}`, `{"group": "${SOURCE}"}`),
			func(t *testing.T, cfg *Config) {
				if len(cfg.Selectors[0].specs) != 1 || cfg.Selectors[0].specs[0] != cfg.RootGroups[1] {
					t.Error("selector did not resolve to the ${SOURCE} group")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestMemoryLimitResolve(t *testing.T) {
	tests := []struct {
		m     MemoryLimit
		fleet int64
		want  int64
	}{
		{MemoryLimit{}, 1 << 40, math.MaxInt64},
		{MemoryLimit{Bytes: 10 << 30, Set: true}, 0, 10 << 30},
		{MemoryLimit{Bytes: 10 << 30, Set: true}, 1 << 40, 10 << 30},
		{MemoryLimit{Fraction: 0.25, IsFraction: true, Set: true}, 1 << 40, 1 << 38},
		{MemoryLimit{Fraction: 0.25, IsFraction: true, Set: true}, 0, math.MaxInt64},
		{MemoryLimit{Fraction: 0.25, IsFraction: true, Set: true}, -1, math.MaxInt64},
		{MemoryLimit{Fraction: 1, IsFraction: true, Set: true}, math.MaxInt64, math.MaxInt64},
		{MemoryLimit{Fraction: 0, IsFraction: true, Set: true}, 1 << 40, 0},
	}
	for _, tt := range tests {
		if got := tt.m.Resolve(tt.fleet); got != tt.want {
			t.Errorf("%+v.Resolve(%d) = %d, want %d", tt.m, tt.fleet, got, tt.want)
		}
	}
}

func TestIsTemplate(t *testing.T) {
	for name, want := range map[string]bool{"${USER}": true, "bi-${toolname}": true, "adhoc": false, "$USER": false, "${}": false} {
		if got := (&GroupSpec{Name: name}).IsTemplate(); got != want {
			t.Errorf("IsTemplate(%q) = %v", name, got)
		}
	}
}
