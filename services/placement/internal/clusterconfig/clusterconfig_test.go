package clusterconfig

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`{"clusters":[{"name":"a","routingGroup":"etl","region":"eu","maxSlots":4,"tables":["tpch.tiny.lineitem"]},
		{"name":"b","engine":"trino","url":"http://127.0.0.1:1","weight":3}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Clusters["a"], cfg.Clusters["b"]
	if a.RoutingGroup != "etl" || a.Weight != 1 || a.MaxSlots != 4 || !a.RunsPlans() {
		t.Errorf("a = %+v", a)
	}
	if b.Weight != 3 || b.RunsPlans() {
		t.Errorf("b = %+v", b)
	}
}

func TestParseErrorsNameThePath(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"clusters":[{"name":"a"},{"name":"b","maxSlots":-1}]}`, "clusters[1].maxSlots: must be >= 0"},
		{`{"clusters":[{"name":"a"},{"name":"a"}]}`, `clusters[1].name: cluster "a" is listed twice`},
		{`{"clusters":[{"name":"bad name"}]}`, "clusters[0].name:"},
		{`{"clusters":[{"name":"t","engine":"trino"}]}`, "clusters[0].url: a trino cluster needs"},
		{`{"clusters":[{"name":"t","engine":"spark"}]}`, `clusters[0].engine: must be one of duckdb, trino, presto, got "spark"`},
		{`{"clusters":[{"name":"t","tables":["lineitem"]}]}`, `clusters[0].tables[0]: must be catalog.schema.table`},
		{`{"clusters":[{"name":"t","slots":3}]}`, `unknown field "slots"`},
		{`{"clusters":`, "clusters file:"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", c.doc, err, c.want)
		}
	}
}
