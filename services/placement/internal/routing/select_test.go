package routing

import (
	"net/http"
	"os"
	"testing"
)

func loadExample(t *testing.T) *Config {
	t.Helper()
	c, err := Load("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSelect(t *testing.T) {
	t.Parallel()
	c := loadExample(t)
	tests := []struct {
		name string
		in   Input
		want string // Result.String()
	}{
		{"etl rule, every condition", Input{User: "etl_daily", Source: "airflow-prod", ClientTags: []string{"x", "etl"}, QueryType: "INSERT"}, "etl (rule etl)"},
		{"etl rule, query type compared ignoring case", Input{User: "etl_daily", Source: "airflow", ClientTags: []string{"etl"}, QueryType: "insert"}, "etl (rule etl)"},
		{"etl rule, user regex is anchored at the start", Input{User: "not_etl_daily", Source: "airflow", ClientTags: []string{"etl"}, QueryType: "INSERT"}, "adhoc (default)"},
		{"etl rule, source regex is anchored at the end", Input{User: "etl_x", Source: "my-airflow", ClientTags: []string{"etl"}, QueryType: "INSERT"}, "adhoc (default)"},
		{"etl rule, a tag is missing", Input{User: "etl_x", Source: "airflow", QueryType: "INSERT"}, "adhoc (default)"},
		{"etl rule, another query type", Input{User: "etl_x", Source: "airflow", ClientTags: []string{"etl"}, QueryType: "SELECT"}, "adhoc (default)"},
		{"etl rule, no query type", Input{User: "etl_x", Source: "airflow", ClientTags: []string{"etl"}}, "adhoc (default)"},
		{"alternation is anchored as a whole", Input{Source: "superset", QueryType: "SELECT"}, "bi (rule dashboards)"},
		{"alternation, second branch", Input{Source: "tableau", QueryType: "SELECT"}, "bi (rule dashboards)"},
		{"alternation does not match a prefix", Input{Source: "tableau-server", QueryType: "SELECT"}, "adhoc (default)"},
		{"every tag is needed", Input{ClientTags: []string{"nightly"}}, "adhoc (default)"},
		{"every tag present, any order", Input{ClientTags: []string{"nightly", "batch"}}, "batch (rule nightly)"},
		{"first matching rule wins", Input{User: "admin", ClientTags: []string{"batch", "nightly"}}, "batch (rule nightly)"},
		{"later rule", Input{User: "root"}, "ops (rule admins)"},
		{"unnamed rule", Input{User: "svc_billing"}, "services (rule rules[4])"},
		{"nothing matches", Input{User: "alice", Source: "cli"}, "adhoc (default)"},
		{"header wins over rules", Input{HeaderGroup: "vip", User: "etl_x", Source: "airflow", ClientTags: []string{"etl"}, QueryType: "INSERT"}, "vip (header)"},
		{"header is trimmed", Input{HeaderGroup: "  vip ", User: "alice"}, "vip (header)"},
		{"blank header is ignored", Input{HeaderGroup: "   ", User: "root"}, "ops (rule admins)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := c.Select(tt.in).String(); got != tt.want {
				t.Errorf("Select = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSelectWithoutRules(t *testing.T) {
	t.Parallel()
	var nilCfg *Config
	tests := []struct {
		name string
		c    *Config
		in   Input
		want Result
	}{
		{"nil config", nilCfg, Input{User: "a"}, Result{Via: ViaDefault}},
		{"nil config, header", nilCfg, Input{HeaderGroup: "g"}, Result{Group: "g", Via: ViaHeader}},
		{"no default group", &Config{}, Input{User: "a"}, Result{Via: ViaDefault}},
		{"default group", &Config{DefaultGroup: "adhoc"}, Input{}, Result{Group: "adhoc", Via: ViaDefault}},
		{"rule without conditions matches all", &Config{Rules: []Rule{{Name: "all", Group: "x"}}}, Input{}, Result{Group: "x", Via: ViaRule, Rule: "all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.Select(tt.in); got != tt.want {
				t.Errorf("Select = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := (Result{Via: ViaDefault}).String(); got != `"" (default)` {
		t.Errorf("String() = %s", got)
	}
}

func TestHeaderGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"none", http.Header{}, ""},
		{"trino", http.Header{"X-Trino-Routing-Group": {"etl"}}, "etl"},
		{"presto", http.Header{"X-Presto-Routing-Group": {" bi "}}, "bi"},
		{"trino first", http.Header{"X-Trino-Routing-Group": {"etl"}, "X-Presto-Routing-Group": {"bi"}}, "etl"},
		{"blank trino falls back to presto", http.Header{"X-Trino-Routing-Group": {" "}, "X-Presto-Routing-Group": {"bi"}}, "bi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HeaderGroup(tt.header); got != tt.want {
				t.Errorf("HeaderGroup = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	if _, err := Load("testdata/missing.json"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
