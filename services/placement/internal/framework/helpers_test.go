package framework

import "time"

// t0 is the decision time of the tests; clusters built by ready heartbeat at t0.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// ready returns a ready duckdb cluster with 8 free slots, 8 GiB of free memory and a
// heartbeat at t0, changed by mods.
func ready(name string, mods ...func(*Cluster)) *Cluster {
	c := &Cluster{Name: name, Engine: "duckdb", State: StateReady, Slots: 8,
		MemoryBytes: 8 << 30, LastHeartbeat: t0, Weight: 1}
	for _, m := range mods {
		m(c)
	}
	return c
}

// sqlQuery returns a SQL query in the default routing group, changed by mods.
func sqlQuery(mods ...func(*Query)) *Query {
	q := &Query{ID: "q1", Kind: KindSQL}
	for _, m := range mods {
		m(q)
	}
	return q
}

// statusReason returns "" for success, else the code and reason.
func statusReason(s *Status) string {
	if s.IsSuccess() {
		return ""
	}
	return s.Code.String() + ": " + s.Reason
}
