package testcoordinator_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

const prestoSlug = "x0123456789abcdef0123456789abcdef"

// put sends Presto's PUT /v1/statement/{id}?slug= as alice.
func put(t *testing.T, url, id, slug, sql string) (int, []byte) {
	t.Helper()
	target := url + "/v1/statement/" + id
	if slug != "-" {
		target += "?slug=" + slug
	}
	status, _, b := call(t, http.MethodPut, target, sql, "X-Presto-User", "alice", "X-Presto-Source", "sluice-test")
	return status, b
}

func TestPrestoPutKeepsTheCallersID(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{Flavor: events.ProtocolPresto})
	const id = "20260821_101500_00042_slc01"
	status, b := put(t, url, id, prestoSlug, "SELECT 1")
	first := results(t, status, b)
	if first.ID != id || first.NextURI != url+"/v1/statement/queued/"+id+"/1?slug="+prestoSlug {
		t.Errorf("first results = %+v", first)
	}
	if first.Stats.State != "WAITING_FOR_PREREQUISITES" {
		t.Errorf("state = %q", first.Stats.State)
	}

	// Repeating the PUT with the same slug before the first poll answers the same query.
	status, b = put(t, url, id, prestoSlug, "SELECT 1")
	again := results(t, status, b)
	if again.ID != id || again.NextURI != first.NextURI {
		t.Errorf("repeated PUT = %+v", again)
	}
	// A different slug conflicts.
	if status, b := put(t, url, id, "x"+prestoSlug[1:31]+"ff", "SELECT 1"); status != http.StatusConflict || string(b) != "Query already exists" {
		t.Errorf("PUT with another slug: %d %s", status, b)
	}
	rec, ok := c.Query(id)
	if !ok || rec.Method != http.MethodPut || rec.Slug != prestoSlug || rec.Puts != 3 || rec.Spec.Source != "sluice-test" || rec.Spec.ID != id {
		t.Errorf("record = %+v", rec)
	}
	if n := len(c.Queries()); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}

	_, rows, last := drain(t, first)
	if len(rows) != 1 || last.Stats.State != "FINISHED" || last.ID != id {
		t.Errorf("rows %v, last %+v", rows, last)
	}
	// After the first poll even the same slug conflicts.
	if status, _ := put(t, url, id, prestoSlug, "SELECT 1"); status != http.StatusConflict {
		t.Errorf("PUT after a poll: %d, want 409", status)
	}
	if status, info := queryInfo(t, events.ProtocolPresto, url, id); status != 200 || field(info, "queryId") != id {
		t.Errorf("query info: %d %v", status, info)
	}
}

func TestPrestoPutRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, id, slug, sql string
		want                int
	}{
		{"upper case id", "Query_1", prestoSlug, "SELECT 1", http.StatusNotFound},
		{"dash in id", "q-1", prestoSlug, "SELECT 1", http.StatusNotFound},
		{"no slug", "q1", "-", "SELECT 1", http.StatusBadRequest},
		{"empty statement", "q1", prestoSlug, "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: events.ProtocolPresto})
			if status, b := put(t, url, tc.id, tc.slug, tc.sql); status != tc.want {
				t.Errorf("status %d (%s), want %d", status, b, tc.want)
			}
			if n := len(c.Queries()); n != 0 {
				t.Errorf("%d queries registered", n)
			}
		})
	}
}

func TestTrinoHasNoPut(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{})
	status, _, _ := call(t, http.MethodPut, url+"/v1/statement/q1?slug="+prestoSlug, "SELECT 1", "X-Trino-User", "alice")
	if status != http.StatusNotFound {
		t.Errorf("PUT on Trino: %d, want 404", status)
	}
}
