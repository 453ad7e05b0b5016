package testcoordinator

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// Request is one recorded HTTP request.
type Request struct {
	Method string
	// Path is the URL path and RawQuery its query string.
	Path     string
	RawQuery string
	Header   http.Header
	Body     string
	// Status is the status code answered (0 while the request is in progress).
	Status int
	At     time.Time
}

// QueryRecord is what the coordinator knows about one query.
type QueryRecord struct {
	ID string
	// Method is POST, or PUT for Presto's dispatch with a caller-chosen ID.
	Method string
	SQL    string
	// Spec holds the identity and session headers of the POST or PUT, parsed in the
	// coordinator's header family (ID and SQL filled in; Protocol is the flavor).
	Spec events.QuerySpec
	// Header is every header of the POST or PUT (Authorization, trace token, …).
	Header http.Header
	// Principal is the user authenticated with Basic auth ("" without Options.BasicAuth).
	Principal string
	// Slug is the Presto slug of the query ("" for Trino, whose slugs change per URL).
	Slug string
	// Puts counts the PUTs received for this ID.
	Puts int
	// State is QUEUED, RUNNING, FINISHED, FAILED, or StateRegistered before submission.
	State string
	// Submitted reports whether a client polled the query, so the engine created it.
	Submitted bool
	// Error is set when the query failed.
	Error *protocol.QueryError
	// RowsSent counts the data rows served to clients.
	RowsSent int
}

// Requests returns a copy of every request received so far, in order.
func (c *Coordinator) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Request, len(c.requests))
	for i, r := range c.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Query returns the record of query id.
func (c *Coordinator) Query(id string) (QueryRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queries[id]
	if q == nil {
		return QueryRecord{}, false
	}
	return c.recordLocked(q), true
}

// Queries returns the records of every query, in registration order.
func (c *Coordinator) Queries() []QueryRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]QueryRecord, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.recordLocked(c.queries[id]))
	}
	return out
}

// WaitQuery waits until the record of query id satisfies cond, or ctx ends, and returns
// the last record seen. It checks on every state change and at least every 10ms (for
// durations on a real clock). An id that is not registered yet is waited for.
func (c *Coordinator) WaitQuery(ctx context.Context, id string, cond func(QueryRecord) bool) (QueryRecord, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		q := c.queries[id]
		var rec QueryRecord
		if q != nil {
			rec = c.recordLocked(q)
		}
		c.mu.Unlock()
		if q != nil && cond(rec) {
			return rec, nil
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// recordLocked snapshots q; c.mu must be held.
func (c *Coordinator) recordLocked(q *query) QueryRecord {
	c.advance(q, c.clock.Now())
	return QueryRecord{
		ID: q.id, Method: q.method, SQL: q.sql, Spec: cloneSpec(q.spec), Header: q.header.Clone(),
		Principal: q.principal, Slug: q.slug, Puts: q.puts, State: q.state(),
		Submitted: q.phase != phaseRegistered, Error: q.err, RowsSent: q.rowsSent,
	}
}

// cloneSpec deep-copies a spec through JSON, so callers cannot alias the coordinator's maps.
func cloneSpec(s events.QuerySpec) events.QuerySpec {
	b, err := json.Marshal(s)
	if err != nil {
		return s
	}
	var out events.QuerySpec
	if json.Unmarshal(b, &out) != nil {
		return s
	}
	return out
}
