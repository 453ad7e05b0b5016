package testcoordinator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// queuedURI is the queued URL of q for token.
func (c *Coordinator) queuedURI(base string, q *query, token int64) string {
	t := strconv.FormatInt(token, 10)
	if c.opts.Flavor == events.ProtocolPresto {
		return base + "/v1/statement/queued/" + q.id + "/" + t + "?slug=" + q.slug
	}
	return base + "/v1/statement/queued/" + q.id + "/" + trinoSlug(q.key, slugQueued, token) + "/" + t
}

// executingURI is the executing URL of q for token.
func (c *Coordinator) executingURI(base string, q *query, token int64) string {
	t := strconv.FormatInt(token, 10)
	if c.opts.Flavor == events.ProtocolPresto {
		return base + "/v1/statement/executing/" + q.id + "/" + t + "?slug=" + q.slug
	}
	return base + "/v1/statement/executing/" + q.id + "/" + trinoSlug(q.key, slugExecuting, token) + "/" + t
}

// infoURI is the web UI page of a query, as both engines mint it.
func infoURI(base, id string) string { return base + "/ui/query.html?" + id }

// queuedResults is the answer of a POST, PUT or queued GET: state, times and either the
// next queued URL (token next) or, when the query failed, its error.
func (c *Coordinator) queuedResults(base string, q *query, next int64, now time.Time) protocol.QueryResults {
	c.advance(q, now)
	queued, elapsed, _ := q.times(now)
	st := protocol.StatementStats{
		State:             StateQueued,
		Queued:            true,
		QueuedTimeMillis:  queued.Milliseconds(),
		ElapsedTimeMillis: elapsed.Milliseconds(),
	}
	if c.opts.Flavor == events.ProtocolPresto && q.phase == phaseRegistered {
		st.State, st.Queued = StateWaitingForPrerequisites, false
	}
	res := protocol.QueryResults{ID: q.id, InfoURI: infoURI(base, q.id), Stats: st, Warnings: []protocol.Warning{}}
	if q.phase == phaseFailed {
		res.Stats.State, res.Stats.Queued = StateFailed, false
		res.Error = q.err
		return res
	}
	res.NextURI = c.queuedURI(base, q, next)
	return res
}

// executingPageLocked answers executing token of q with the token rules of Trino's Query:
// the last token again gives the same page, an older token 410, any token but the next 404.
// A new page waits up to maxWait while the query runs. c.mu must be held; it returns the
// page and 200, or no page and the error status.
func (c *Coordinator) executingPageLocked(r *http.Request, q *query, token int64) ([]byte, int) {
	if status := q.execTokenStatus(token); status != 0 {
		return q.cachedPage(status), status
	}
	c.longPoll(r, func(now time.Time) (bool, time.Duration) {
		c.advance(q, now)
		return q.phase == phaseRunning, q.remaining(now)
	})
	// Another request may have served this token while we waited.
	if status := q.execTokenStatus(token); status != 0 {
		return q.cachedPage(status), status
	}
	res := c.buildExecuting(baseURL(r), q, token, c.clock.Now())
	page, err := json.Marshal(res)
	if err != nil {
		return nil, http.StatusInternalServerError
	}
	q.execPage, q.execLast, q.execNext = page, token, -1
	if res.NextURI != "" {
		q.execNext = token + 1
	}
	return page, http.StatusOK
}

// cachedPage is the last page when status is 200, else nil.
func (q *query) cachedPage(status int) []byte {
	if status == http.StatusOK {
		return q.execPage
	}
	return nil
}

// execTokenStatus applies the executing token rules: 200 serves the cached page again, 410
// and 404 are errors, and 0 means token is the next page to build.
func (q *query) execTokenStatus(token int64) int {
	switch {
	case q.execLast < 0 && token == 0:
		return 0
	case q.execLast < 0:
		return http.StatusNotFound
	case token == q.execLast:
		return http.StatusOK
	case token < q.execLast:
		return http.StatusGone
	case q.execNext < 0 || token != q.execNext:
		return http.StatusNotFound
	}
	return 0
}

// buildExecuting makes executing page token of q at now.
func (c *Coordinator) buildExecuting(base string, q *query, token int64, now time.Time) protocol.QueryResults {
	c.advance(q, now)
	res := protocol.QueryResults{
		ID: q.id, InfoURI: infoURI(base, q.id), Stats: c.statementStats(q, now),
		Warnings: []protocol.Warning{}, UpdateType: q.result.UpdateType,
	}
	next := c.executingURI(base, q, token+1)
	switch q.phase {
	case phaseRunning:
		res.Columns = columns(q.result.Columns)
		res.NextURI = next
	case phaseFinished:
		res.Columns = columns(q.result.Columns)
		if q.rowsSent < len(q.result.Rows) {
			end := min(q.rowsSent+c.opts.PageRows, len(q.result.Rows))
			res.Data = q.result.Rows[q.rowsSent:end]
			q.rowsSent = end
			res.NextURI = next
		} else {
			res.UpdateCount = q.result.UpdateCount
		}
	case phaseFailed:
		res.Error = q.err
	}
	return res
}

// statementStats is the stats object of an executing page.
func (c *Coordinator) statementStats(q *query, now time.Time) protocol.StatementStats {
	queued, elapsed, execution := q.times(now)
	st := protocol.StatementStats{
		State:             q.state(),
		Queued:            q.phase == phaseQueued,
		Scheduled:         q.dispatched,
		CPUTimeMillis:     q.cpuTime().Milliseconds(),
		WallTimeMillis:    execution.Milliseconds(),
		QueuedTimeMillis:  queued.Milliseconds(),
		ElapsedTimeMillis: elapsed.Milliseconds(),
		ProcessedRows:     q.processedRows(),
		ProcessedBytes:    q.processedBytes(),
		PeakMemoryBytes:   q.peakMemory(),
	}
	if q.dispatched {
		st.Nodes, st.TotalSplits = 1, 1
	}
	switch q.phase {
	case phaseRunning:
		st.RunningSplits = 1
	case phaseFinished:
		st.CompletedSplits = 1
		st.ProgressPercentage = 100
	}
	return st
}

// processedBytes is the JSON size of the rows of a finished query.
func (q *query) processedBytes() int64 {
	if q.phase != phaseFinished || len(q.result.Rows) == 0 {
		return 0
	}
	b, err := json.Marshal(q.result.Rows)
	if err != nil {
		return 0
	}
	return int64(len(b))
}
