package testcoordinator

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/clientsession"
)

// handlePost serves POST /v1/statement: register a query under a new ID.
func (c *Coordinator) handlePost(w http.ResponseWriter, r *http.Request) {
	c.register(w, r, "", "")
}

// handlePut serves Presto's PUT /v1/statement/{queryId}?slug=: register a query under the
// caller's ID and slug, or answer the existing one.
func (c *Coordinator) handlePut(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("queryId")
	if !validQueryID(id) {
		writeText(w, http.StatusNotFound, "Error 404 Not Found: HTTP 404 Not Found")
		return
	}
	if !r.URL.Query().Has("slug") {
		writeText(w, http.StatusBadRequest, "slug is required")
		return
	}
	c.register(w, r, id, r.URL.Query().Get("slug"))
}

// register creates a query from a POST (id == "") or a PUT and answers its first results.
func (c *Coordinator) register(w http.ResponseWriter, r *http.Request, id, slug string) {
	who, ok := c.authenticate(w, r, true)
	if !ok {
		return
	}
	body, _ := io.ReadAll(r.Body)
	sql := string(body)
	if sql == "" {
		writeText(w, http.StatusBadRequest, "SQL statement is empty")
		return
	}
	if who.user == "" { // Presto: the session needs a user
		writeText(w, http.StatusBadRequest, "User must be set")
		return
	}
	h := c.familyHeaders(r.Header)
	if h.Get(c.prefix+"User") == "" {
		h.Set(c.prefix+"User", who.user)
	}
	spec, err := clientsession.Parse(h)
	if err != nil {
		writeText(w, http.StatusBadRequest, clientsession.Message(err))
		return
	}
	spec.Protocol = c.opts.Flavor
	spec.SQL = sql

	c.mu.Lock()
	now := c.clock.Now()
	if id != "" {
		if q := c.queries[id]; q != nil {
			q.puts++
			if q.slug != slug || q.queuedToken != 0 {
				c.mu.Unlock()
				writeText(w, http.StatusConflict, "Query already exists")
				return
			}
			res := c.queuedResults(baseURL(r), q, 1, now)
			c.mu.Unlock()
			writeJSON(w, res)
			return
		}
	} else {
		id = c.newIDLocked(now)
	}
	q := c.newQueryLocked(id, r.Method, sql, spec, r.Header.Clone(), who, now)
	if r.Method == http.MethodPut {
		q.slug = slug
		q.puts = 1
	}
	c.queries[id] = q
	c.order = append(c.order, id)
	res := c.queuedResults(baseURL(r), q, 1, now)
	c.mu.Unlock()
	writeJSON(w, res)
}

// newQueryLocked builds a registered query; c.mu must be held.
func (c *Coordinator) newQueryLocked(id, method, sql string, spec events.QuerySpec, h http.Header, who identity, now time.Time) *query {
	spec.ID = id
	q := &query{
		id: id, method: method, sql: sql, spec: spec, header: h, principal: who.principal,
		key: newSlugKey(), slug: newPrestoSlug(), registeredAt: now, execLast: -1, execNext: -1,
	}
	if c.opts.BasicAuth != nil && who.user != who.principal && c.opts.CanImpersonate != nil {
		q.denied = !c.opts.CanImpersonate(who.principal, who.user)
	}
	if res, ok := c.scripts[normalizeSQL(sql)]; ok {
		q.result = res
	} else {
		q.result, q.syntaxErr = c.builtin(sql)
	}
	return q
}

// pollTargetLocked finds the query of a queued or executing URL and checks its slug; it
// answers 404 and returns nil when either is wrong. c.mu must be held.
func (c *Coordinator) pollTargetLocked(w http.ResponseWriter, r *http.Request, context int32) (*query, int64) {
	q := c.queries[r.PathValue("queryId")]
	token, err := strconv.ParseInt(r.PathValue("token"), 10, 64)
	if q == nil || err != nil || !c.slugValid(r, q, context, token) {
		writeText(w, http.StatusNotFound, "Query not found")
		return nil, 0
	}
	return q, token
}

// slugValid checks the slug of a poll URL: per URL for Trino, per query for Presto.
func (c *Coordinator) slugValid(r *http.Request, q *query, context int32, token int64) bool {
	if c.opts.Flavor == events.ProtocolPresto {
		return r.URL.Query().Get("slug") == q.slug
	}
	return r.PathValue("slug") == trinoSlug(q.key, context, token)
}

// handleQueued serves GET on a queued URL: submit the query on the first poll, wait up to
// maxWait while it is queued, then answer its queued state or hand it to the executing URL.
func (c *Coordinator) handleQueued(w http.ResponseWriter, r *http.Request) {
	if !c.pollAuth(w, r) {
		return
	}
	c.mu.Lock()
	q, token := c.pollTargetLocked(w, r, slugQueued)
	if q == nil {
		c.mu.Unlock()
		return
	}
	if token != q.queuedToken && token != q.queuedToken+1 {
		c.mu.Unlock()
		writeText(w, http.StatusGone, "Invalid token")
		return
	}
	q.queuedToken = token
	if q.phase == phaseRegistered {
		c.submit(q, c.clock.Now())
		c.notifyLocked()
	}
	c.longPoll(r, func(time.Time) (bool, time.Duration) { return q.phase == phaseQueued, 0 })
	now := c.clock.Now()
	base := baseURL(r)
	switch {
	case q.phase == phaseQueued || (q.phase == phaseFailed && (!q.dispatched || c.opts.Flavor == events.ProtocolTrino)):
		res := c.queuedResults(base, q, token+1, now)
		c.mu.Unlock()
		writeJSON(w, res)
	case c.opts.Flavor == events.ProtocolPresto:
		// Presto answers the first executing page from the queued URL.
		page, status := c.executingPageLocked(r, q, 0)
		c.mu.Unlock()
		writePage(w, page, status)
	default:
		res := c.queuedResults(base, q, token+1, now)
		res.NextURI = c.executingURI(base, q, 0)
		c.mu.Unlock()
		writeJSON(w, res)
	}
}

// handleExecuting serves GET on an executing URL.
func (c *Coordinator) handleExecuting(w http.ResponseWriter, r *http.Request) {
	if !c.pollAuth(w, r) {
		return
	}
	c.mu.Lock()
	q, token := c.pollTargetLocked(w, r, slugExecuting)
	if q == nil {
		c.mu.Unlock()
		return
	}
	if !q.dispatched {
		c.mu.Unlock()
		writeText(w, http.StatusNotFound, "Query not found")
		return
	}
	page, status := c.executingPageLocked(r, q, token)
	c.mu.Unlock()
	writePage(w, page, status)
}

// handleQueuedDelete cancels through a queued URL; before submission the cancel applies
// when the query is submitted.
func (c *Coordinator) handleQueuedDelete(w http.ResponseWriter, r *http.Request) {
	c.deletePoll(w, r, slugQueued)
}

// handleExecutingDelete cancels through an executing URL.
func (c *Coordinator) handleExecutingDelete(w http.ResponseWriter, r *http.Request) {
	c.deletePoll(w, r, slugExecuting)
}

func (c *Coordinator) deletePoll(w http.ResponseWriter, r *http.Request, context int32) {
	if !c.pollAuth(w, r) {
		return
	}
	c.mu.Lock()
	q, _ := c.pollTargetLocked(w, r, context)
	if q == nil {
		c.mu.Unlock()
		return
	}
	if context == slugExecuting && !q.dispatched {
		c.mu.Unlock()
		writeText(w, http.StatusNotFound, "Query not found")
		return
	}
	c.cancel(q, c.clock.Now(), true)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// longPoll waits while pending reports true, at most maxWait; c.mu is held on entry and on
// return. pending may return how long, on a real clock, until it changes by itself.
func (c *Coordinator) longPoll(r *http.Request, pending func(now time.Time) (bool, time.Duration)) {
	deadline := time.Now().Add(c.maxWait(r))
	_, realTime := c.clock.(realClock)
	for {
		wait, hint := pending(c.clock.Now())
		left := time.Until(deadline)
		if !wait || left <= 0 || r.Context().Err() != nil || c.isClosed() {
			return
		}
		if realTime && hint > 0 && hint < left {
			left = hint
		}
		ch := c.changed
		c.mu.Unlock()
		c.wait(r, ch, left)
		c.mu.Lock()
	}
}

// isClosed reports whether Close was called.
func (c *Coordinator) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// writePage writes an executing page, or the status of a token error.
func writePage(w http.ResponseWriter, page []byte, status int) {
	switch status {
	case http.StatusOK:
		writeJSONBytes(w, page)
	case http.StatusGone:
		writeText(w, status, "Gone")
	default:
		writeText(w, status, "Query not found")
	}
}
