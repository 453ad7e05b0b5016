// Package results holds the result buffer of each query an executor-proxy runs and serves it
// as pages over the executing URLs of the client protocol: columns no later than the first
// page with data, pages bounded by targetResultSize, the last page kept for replay (same
// token), 410 for older tokens, 404 past the end, and no nextUri on the final page.
package results

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// ErrCanceled is returned by Append once the query was canceled or abandoned.
var ErrCanceled = errors.New("results: query canceled")

// Query is one query's result buffer. The engine writes columns and rows; clients read
// pages. Writers block while more than the buffer limit is waiting to be read, like an
// engine's output buffer.
type Query struct {
	ID       string
	Slug     string
	Protocol events.Protocol
	Created  time.Time

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	columns   []protocol.Column
	rows      [][]any
	rowBytes  []int
	buffered  int
	limit     int
	state     string
	done      bool
	err       *protocol.QueryError
	rowsTotal int64
	bytesOut  int64
	started   time.Time
	ended     time.Time
	cancel    context.CancelCauseFunc

	lastToken  int64
	lastPage   []byte
	finalSent  bool
	lastAccess time.Time
}

// NewQuery returns a buffer for id holding at most limit bytes of unread rows.
func NewQuery(id string, proto events.Protocol, limit int, cancel context.CancelCauseFunc) *Query {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	now := time.Now()
	return &Query{ID: id, Slug: "y" + hex.EncodeToString(b), Protocol: proto, Created: now, changed: make(chan struct{}),
		limit: limit, state: protocol.StateQueued, lastToken: -1, lastAccess: now, cancel: cancel}
}

func (q *Query) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Start marks the query running.
func (q *Query) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.state = protocol.StateRunning
	q.started = time.Now()
	q.notifyLocked()
}

// SetColumns records the result columns.
func (q *Query) SetColumns(cols []protocol.Column) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.columns = cols
	q.notifyLocked()
}

// Append adds one encoded row of about size bytes, blocking while the buffer is full.
func (q *Query) Append(ctx context.Context, row []any, size int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.buffered > 0 && q.buffered+size > q.limit && !q.done {
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			q.mu.Lock()
			return ctx.Err()
		}
		q.mu.Lock()
	}
	if q.done {
		return ErrCanceled
	}
	q.rows = append(q.rows, row)
	q.rowBytes = append(q.rowBytes, size)
	q.buffered += size
	q.rowsTotal++
	q.notifyLocked()
	return nil
}

// Finish ends the query: successfully when qe is nil, else failed with qe. Only the first
// call counts. It reports whether this call ended the query.
func (q *Query) Finish(qe *protocol.QueryError) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return false
	}
	q.done = true
	q.ended = time.Now()
	if qe != nil {
		q.err = qe
		q.state = protocol.StateFailed
		q.rows, q.rowBytes, q.buffered = nil, nil, 0
	} else {
		q.state = protocol.StateFinished
	}
	q.notifyLocked()
	return true
}

// Cancel stops the engine's work for the query and fails it with qe.
func (q *Query) Cancel(qe *protocol.QueryError) bool {
	ended := q.Finish(qe)
	if q.cancel != nil {
		q.cancel(qe)
	}
	return ended
}

// Outcome returns whether the query is done, its error, and its row count.
func (q *Query) Outcome() (done bool, qe *protocol.QueryError, rows int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.done, q.err, q.rowsTotal
}

// Idle reports how long no client fetched a page, and whether the final page was served.
func (q *Query) Idle(now time.Time) (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return now.Sub(q.lastAccess), q.finalSent
}

// ExecutingURI is the URL of page token for this query under base.
func (q *Query) ExecutingURI(base string, token int64) string {
	if q.Protocol == events.ProtocolPresto {
		return fmt.Sprintf("%s/v1/statement/executing/%s/%d?slug=%s", base, q.ID, token, q.Slug)
	}
	return fmt.Sprintf("%s/v1/statement/executing/%s/%s/%d", base, q.ID, q.Slug, token)
}

// Page serves page token: status 200 with the QueryResults JSON, 410 for a token older
// than the last served one, 404 for a token that skips ahead. A new page waits up to
// maxWait for rows or the end of the query.
func (q *Query) Page(ctx context.Context, token int64, maxWait time.Duration, targetSize int, base string) (int, []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lastAccess = time.Now()
	switch {
	case token == q.lastToken:
		return http.StatusOK, q.lastPage
	case token < q.lastToken:
		return http.StatusGone, []byte(fmt.Sprintf("Query %s: token %d is no longer available", q.ID, token))
	case token != q.lastToken+1 || q.finalSent:
		return http.StatusNotFound, []byte(fmt.Sprintf("Query %s: token %d not found", q.ID, token))
	}
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for !q.done && (len(q.rows) == 0 || q.columns == nil) {
		ch := q.changed
		q.mu.Unlock()
		expired := false
		select {
		case <-ch:
		case <-deadline.C:
			expired = true
		case <-ctx.Done():
			expired = true
		}
		q.mu.Lock()
		if expired {
			break
		}
	}
	if q.lastToken+1 != token { // a concurrent request served this token meanwhile
		if token == q.lastToken {
			return http.StatusOK, q.lastPage
		}
		return http.StatusNotFound, []byte("token already advanced")
	}
	res := protocol.QueryResults{
		ID:       q.ID,
		InfoURI:  base + "/ui/query/" + q.ID,
		Columns:  q.columns,
		Warnings: []protocol.Warning{},
		Stats: protocol.StatementStats{
			State: q.state, Scheduled: q.state != protocol.StateQueued, Queued: q.state == protocol.StateQueued,
			Nodes: 1, ProcessedRows: q.rowsTotal, ElapsedTimeMillis: time.Since(q.Created).Milliseconds(),
		},
	}
	if q.state != protocol.StateQueued && !q.started.IsZero() { // a query can end before it ever started
		res.Stats.QueuedTimeMillis = q.started.Sub(q.Created).Milliseconds()
		res.Stats.WallTimeMillis = time.Since(q.started).Milliseconds()
	}
	if q.err != nil {
		res.Error = q.err
		res.Columns = nil
	} else if q.columns != nil {
		n, size := 0, 0
		for n < len(q.rows) && (n == 0 || size+q.rowBytes[n] <= targetSize) {
			size += q.rowBytes[n]
			n++
		}
		if n > 0 {
			res.Data = q.rows[:n:n]
			q.rows = q.rows[n:]
			q.rowBytes = q.rowBytes[n:]
			q.buffered -= size
			q.bytesOut += int64(size)
			q.notifyLocked() // wake a writer blocked on a full buffer
		}
	}
	final := q.done && len(q.rows) == 0
	if final {
		if q.err == nil {
			res.Stats.State = protocol.StateFinished
		}
		res.Stats.ProgressPercentage = 100
		q.finalSent = true
	} else {
		res.NextURI = q.ExecutingURI(base, token+1)
	}
	body, err := encodeJSON(res)
	if err != nil {
		qe := protocol.NewError(protocol.GenericInternalError, "cannot encode results: %v", err)
		body, _ = json.Marshal(protocol.QueryResults{ID: q.ID, InfoURI: res.InfoURI, Error: qe, Stats: protocol.StatementStats{State: protocol.StateFailed}, Warnings: []protocol.Warning{}})
		q.finalSent = true
	}
	q.lastToken = token
	q.lastPage = body
	return http.StatusOK, body
}

// encodeJSON encodes like a coordinator: no HTML escaping of <, > and &.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
