package framework

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	const cfg = `{"profiles": [
		{"name": "default",
		 "filters": ["Healthy", "NotDraining", "RoutingGroup", "Capacity"],
		 "scores": [{"name": "LeastLoaded", "weight": 2}, {"name": "Weight"}],
		 "pluginArgs": {"Healthy": {"heartbeatTimeout": "10s"}}},
		{"name": "etl", "filters": ["DataLocality"], "scores": [{"name": "DataLocality", "weight": 5}]}
	]}`
	c, err := ParseConfig([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	def, err := c.Framework("default")
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Filters(); !slices.Equal(got, []string{"Healthy", "NotDraining", "RoutingGroup", "Capacity"}) {
		t.Errorf("filters = %v", got)
	}
	if got := def.Scores(); !slices.Equal(got, []WeightedPlugin{{"LeastLoaded", 2}, {"Weight", 1}}) {
		t.Errorf("scores = %v (an omitted weight is 1)", got)
	}
	// The heartbeat timeout from pluginArgs is in force: 9 s old passes, 11 s does not.
	d := def.Place(sqlQuery(), []*Cluster{
		ready("fresh", func(c *Cluster) { c.LastHeartbeat = t0.Add(-9 * time.Second) }),
		ready("stale", func(c *Cluster) { c.LastHeartbeat = t0.Add(-11 * time.Second) }),
	}, t0)
	if d.Chosen != "fresh" || len(d.Filtered) != 1 || d.Filtered[0].Reason != "heartbeat 11s old (timeout 10s)" {
		t.Errorf("decision = %s", d)
	}
	etl, err := c.Framework("etl")
	if err != nil || etl.Profile() != "etl" {
		t.Fatalf("etl = %v, %v", etl, err)
	}
	if first, _ := c.Framework(""); first != def {
		t.Errorf(`Framework("") is not the first profile`)
	}
	if _, err := c.Framework("nope"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("unknown profile: err = %v, want ErrUnknownProfile", err)
	}
	if len(c.Profiles) != 2 || c.Profiles[1].Scores[0].Weight != 5 {
		t.Errorf("profiles = %+v", c.Profiles)
	}
	byHand := &Config{Profiles: []Profile{DefaultProfile(), {Name: "bad"}}}
	if f, err := byHand.Framework(""); err != nil || f.Profile() != DefaultProfileName {
		t.Errorf("hand-built config: %v, %v", f, err)
	}
	if _, err := (&Config{}).Framework(""); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("empty config: err = %v, want ErrUnknownProfile", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"unknown score plugin with a suggestion",
			`{"profiles": [{"name": "p", "scores": [{"name": "Weight"}, {"name": "LeastLoad", "weight": 2}]}]}`,
			[]string{`profiles[0].scores[1].name: unknown plugin "LeastLoad" (did you mean "LeastLoaded"?)`}},
		{"unknown filter, wrong case",
			`{"profiles": [{"name": "p", "filters": ["healthy"]}]}`,
			[]string{`profiles[0].filters[0]: unknown plugin "healthy" (did you mean "Healthy"?)`}},
		{"unknown plugin, nothing close",
			`{"profiles": [{"name": "p", "filters": ["Frobnicate"]}]}`,
			[]string{`profiles[0].filters[0]: unknown plugin "Frobnicate"`}},
		{"zero weight",
			`{"profiles": [{"name": "p", "scores": [{"name": "LeastLoaded", "weight": 0}]}]}`,
			[]string{`profiles[0].scores[0].weight: must be >= 1, got 0`}},
		{"negative weight",
			`{"profiles": [{"name": "p", "scores": [{"name": "LeastLoaded", "weight": -2}]}]}`,
			[]string{`profiles[0].scores[0].weight: must be >= 1, got -2`}},
		{"weight not a number",
			`{"profiles": [{"name": "p", "scores": [{"name": "LeastLoaded", "weight": "2"}]}]}`,
			[]string{`profiles[0].scores[0].weight: expected an integer, got string`}},
		{"filter not a string",
			`{"profiles": [{"name": "p", "filters": [1]}]}`,
			[]string{`profiles[0].filters: expected a string, got number`}},
		{"profiles not an array", `{"profiles": {}}`, []string{`profiles: expected an array, got object`}},
		{"plugin args not an object",
			`{"profiles": [{"name": "p", "filters": ["Healthy"], "pluginArgs": {"Healthy": 3}}]}`,
			[]string{`profiles[0].pluginArgs.Healthy: expected an object, got number`}},
		{"duplicate filter",
			`{"profiles": [{"name": "p", "filters": ["Healthy", "Capacity", "Healthy"]}]}`,
			[]string{`profiles[0].filters[2]: duplicate plugin "Healthy" (also at profiles[0].filters[0])`}},
		{"duplicate score",
			`{"profiles": [{"name": "p", "scores": [{"name": "Weight"}, {"name": "Weight", "weight": 3}]}]}`,
			[]string{`profiles[0].scores[1].name: duplicate plugin "Weight" (also at profiles[0].scores[0].name)`}},
		{"score plugin as a filter",
			`{"profiles": [{"name": "p", "filters": ["LeastLoaded"]}]}`,
			[]string{`profiles[0].filters[0]: plugin "LeastLoaded" is not a filter plugin`}},
		{"filter plugin as a score",
			`{"profiles": [{"name": "p", "scores": [{"name": "Capacity"}]}]}`,
			[]string{`profiles[0].scores[0].name: plugin "Capacity" is not a score plugin`}},
		{"unknown top-level field",
			`{"profiles": [{"name": "p"}], "version": 2}`,
			[]string{`unknown field "version"`}},
		{"unknown profile field",
			`{"profiles": [{"name": "p", "filter": ["Healthy"]}]}`,
			[]string{`profiles[0]: unknown field "filter"`}},
		{"unknown score field",
			`{"profiles": [{"name": "p", "scores": [{"name": "Weight", "wieght": 2}]}]}`,
			[]string{`profiles[0].scores[0]: unknown field "wieght"`}},
		{"bad plugin args",
			`{"profiles": [{"name": "p", "filters": ["Healthy"], "pluginArgs": {"Healthy": {"heartbeatTimeout": "-1s"}}}]}`,
			[]string{`profiles[0].pluginArgs.Healthy.heartbeatTimeout: must be positive`}},
		{"args of a plugin without args",
			`{"profiles": [{"name": "p", "filters": ["Capacity"], "pluginArgs": {"Capacity": {"x": 1}}}]}`,
			[]string{`profiles[0].pluginArgs.Capacity: plugin Capacity takes no arguments`}},
		{"args of a plugin not enabled",
			`{"profiles": [{"name": "p", "filters": ["Capacity"], "pluginArgs": {"Healthy": {}}}]}`,
			[]string{`profiles[0].pluginArgs.Healthy: plugin "Healthy" is not enabled in this profile`}},
		{"args of an unknown plugin",
			`{"profiles": [{"name": "p", "pluginArgs": {"Helthy": {}}}]}`,
			[]string{`profiles[0].pluginArgs.Helthy: unknown plugin "Helthy" (did you mean "Healthy"?)`}},
		{"no profiles", `{"profiles": []}`, []string{`profiles: at least one profile is required`}},
		{"no name", `{"profiles": [{"filters": ["Healthy"]}]}`, []string{`profiles[0].name: must not be empty`}},
		{"duplicate profile",
			`{"profiles": [{"name": "p"}, {"name": "q"}, {"name": "p"}]}`,
			[]string{`profiles[2].name: duplicate profile "p" (also profiles[0])`}},
		{"null document", `null`, []string{`expected an object, got null`}},
		{"null profile", `{"profiles": [null]}`, []string{`profiles[0]: expected an object, got null`}},
		{"empty document", ``, []string{`invalid JSON: empty document`}},
		{"truncated", `{"profiles": [`, []string{`invalid JSON: unexpected end of input`}},
		{"not an object", `[1]`, []string{`expected an object, got array`}},
		{"trailing data", `{"profiles": [{"name": "p"}]} {}`, []string{`invalid JSON: data after the top-level value`}},
		{"every problem is reported, in order",
			`{"profiles": [{"name": "a", "filters": ["Nope"], "scores": [{"name": "Weight", "weight": 0}]}, {"name": "b", "filters": ["Healthy", "Healthy"]}]}`,
			[]string{
				`profiles[0].filters[0]: unknown plugin "Nope"`,
				`profiles[0].scores[0].weight: must be >= 1, got 0`,
				`profiles[1].filters[1]: duplicate plugin "Healthy" (also at profiles[1].filters[0])`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseConfig([]byte(tt.json), nil)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %T %v, want a *ValidationError wrapping ErrInvalidConfig", err, err)
			}
			got := make([]string, len(ve.Errors))
			for i, fe := range ve.Errors {
				got[i] = fe.Error()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	p, err := ParseProfile([]byte(`{"name":"default","filters":["Healthy","NotDraining"],"scores":[{"name":"LeastLoaded","weight":2}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "default" || len(p.Filters) != 2 || p.Scores[0] != (WeightedPlugin{NameLeastLoaded, 2}) {
		t.Errorf("profile = %+v", p)
	}
	_, err = ParseProfile([]byte(`{"name":"x","scores":[{"name":"LeastLoad"}]}`), nil)
	if err == nil || err.Error() != `scores[0].name: unknown plugin "LeastLoad" (did you mean "LeastLoaded"?)` {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultProfileRoundTrips(t *testing.T) {
	t.Parallel()
	p := DefaultProfile()
	if err := p.SetArgs(NameHealthy, HealthyArgs{HeartbeatTimeout: new(Duration(5 * time.Second))}); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]any{"profiles": []Profile{p}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	f, _ := c.Framework(DefaultProfileName)
	if !slices.Equal(f.Filters(), p.Filters) || !slices.Equal(f.Scores(), p.Scores) {
		t.Errorf("round trip changed the profile: %v %v", f.Filters(), f.Scores())
	}
	// Every built-in plugin is enabled.
	enabled := map[string]bool{}
	for _, n := range f.Filters() {
		enabled[n] = true
	}
	for _, w := range f.Scores() {
		enabled[w.Name] = true
	}
	for _, n := range DefaultRegistry().Names() {
		if !enabled[n] {
			t.Errorf("DefaultProfile does not enable %s", n)
		}
	}
}

func TestNewRejectsBadProfile(t *testing.T) {
	t.Parallel()
	_, err := New(Profile{Name: "p", Scores: []WeightedPlugin{{Name: NameLeastLoaded}}}, nil)
	if err == nil || err.Error() != "scores[0].weight: must be >= 1, got 0" {
		t.Errorf("err = %v", err)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := DefaultRegistry()
	if err := reg.Register(NameHealthy, newHealthyFromArgs); !errors.Is(err, ErrDuplicatePlugin) {
		t.Errorf("duplicate Register: err = %v, want ErrDuplicatePlugin", err)
	}
	// A factory that builds a plugin of another name is caught.
	reg["Alias"] = func(json.RawMessage) (Plugin, error) { return Capacity{}, nil }
	_, err := New(Profile{Name: "p", Filters: []string{"Alias"}}, reg)
	if err == nil || err.Error() != `filters[0]: the factory registered as "Alias" builds another plugin` {
		t.Errorf("err = %v", err)
	}
	want := []string{"Capacity", "DataLocality", "EngineCapability", "Healthy", "LeastLoaded", "MemoryHeadroom",
		"NotDraining", "RegionAffinity", "RoutingGroup", "Weight"}
	if got := DefaultRegistry().Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v", got)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	names := DefaultRegistry().Names()
	tests := []struct{ in, want string }{
		{"LeastLoad", "LeastLoaded"},
		{"leastloaded", "LeastLoaded"},
		{"Capcity", "Capacity"},
		{"RegionAfinity", "RegionAffinity"},
		{"X", ""},
		{"TotallyDifferent", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, names); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
