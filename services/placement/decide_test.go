package placement

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/services/placement/internal/registry"
)

// TestDecideDataLocality: a query goes to the cluster that has its tables, waits for it
// while it is busy, and is placed without locality only when no cluster lists the tables
// (so that the engine answers TABLE_NOT_FOUND instead of the query waiting forever).
func TestDecideDataLocality(t *testing.T) {
	t.Parallel()
	fw, err := loadFramework(Config{HeartbeatTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(time.Minute)
	beat := func(name string, running int, tables ...string) {
		reg.SetHeartbeat(name, &events.ClusterHeartbeat{Name: name, State: events.ClusterReady, Slots: 1, Running: running, Tables: tables, At: time.Now()})
	}
	beat("orders-only", 0, "tpch.tiny.orders")
	beat("lineitem", 0, "tpch.tiny.lineitem")
	s := &service{reg: reg, fw: fw}
	q := func(sql string) *events.QuerySpec {
		return &events.QuerySpec{ID: "q", SQL: sql, User: "u", Catalog: "tpch", Schema: "tiny"}
	}
	if d := s.decide(q("SELECT count(*) FROM lineitem"), 0, nil); d.Chosen != "lineitem" {
		t.Errorf("lineitem query placed on %q: %s", d.Chosen, d.String())
	}
	beat("lineitem", 1, "tpch.tiny.lineitem") // busy: the query waits for it
	if d := s.decide(q("SELECT count(*) FROM lineitem"), 0, nil); d.Chosen != "" {
		t.Errorf("lineitem query placed on %q while the only cluster with the table is full", d.Chosen)
	}
	d := s.decide(q("SELECT * FROM no_such_table"), 0, nil)
	if d.Chosen != "orders-only" {
		t.Errorf("query on a table no cluster lists placed on %q, want the free cluster: %s", d.Chosen, d.String())
	}
}
