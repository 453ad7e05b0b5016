package testcoordinator

import (
	"github.com/sluicehq/sluice/pkg/sqltext"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// handleQueryList serves GET /v1/query[?state=]: BasicQueryInfo of every submitted query.
func (c *Coordinator) handleQueryList(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.authenticate(w, r, true); !ok {
		return
	}
	filter := strings.ToUpper(r.URL.Query().Get("state"))
	c.mu.Lock()
	now := c.clock.Now()
	out := []queryInfoJSON{}
	for _, id := range c.order {
		q := c.queries[id]
		c.advance(q, now)
		if q.phase == phaseRegistered || (filter != "" && q.state() != filter) {
			continue
		}
		info := c.queryInfo(baseURL(r), q, now)
		info.FieldNames = nil
		out = append(out, info)
	}
	c.mu.Unlock()
	writeJSON(w, out)
}

// handleQueryInfo serves GET /v1/query/{queryId}: 410 when the engine does not know it.
func (c *Coordinator) handleQueryInfo(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.authenticate(w, r, true); !ok {
		return
	}
	c.mu.Lock()
	q := c.queries[r.PathValue("queryId")]
	if q == nil || q.phase == phaseRegistered {
		c.mu.Unlock()
		w.WriteHeader(http.StatusGone)
		return
	}
	info := c.queryInfo(baseURL(r), q, c.clock.Now())
	c.mu.Unlock()
	writeJSON(w, info)
}

// handleQueryDelete serves DELETE /v1/query/{queryId}: cancel; 204 even when unknown.
func (c *Coordinator) handleQueryDelete(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.authenticate(w, r, true); !ok {
		return
	}
	c.mu.Lock()
	if q := c.queries[r.PathValue("queryId")]; q != nil {
		c.cancel(q, c.clock.Now(), false)
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleQueryKill serves PUT /v1/query/{queryId}/killed (body: message): 202, 409 when the
// query is done, 410 when unknown.
func (c *Coordinator) handleQueryKill(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.authenticate(w, r, true); !ok {
		return
	}
	msg := "No message provided."
	if b := readBody(r); b != "" {
		msg = "Message: " + b
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queries[r.PathValue("queryId")]
	if q == nil || q.phase == phaseRegistered {
		w.WriteHeader(http.StatusGone)
		return
	}
	now := c.clock.Now()
	c.advance(q, now)
	if q.done() {
		w.WriteHeader(http.StatusConflict)
		return
	}
	c.fail(q, now, c.newError(protocol.AdministrativelyKilled, "Query killed. "+msg))
	c.notifyLocked()
	w.WriteHeader(http.StatusAccepted)
}

// queryInfo builds the QueryInfo document of q; c.mu must be held.
func (c *Coordinator) queryInfo(base string, q *query, now time.Time) queryInfoJSON {
	c.advance(q, now)
	info := queryInfoJSON{
		QueryID:   q.id,
		Session:   c.session(q),
		State:     q.state(),
		Scheduled: q.dispatched,
		Self:      base + "/v1/query/" + q.id,
		Query:     q.sql,
		QueryType: sqltext.QueryType(q.sql),
		Warnings:  []any{},
		FinalInfo: q.done(),
	}
	for _, col := range q.result.Columns {
		info.FieldNames = append(info.FieldNames, col.Name)
	}
	info.QueryStats = c.queryStats(q, now)
	if q.err != nil {
		code := c.errorCode(q.err)
		info.ErrorType = q.err.ErrorType
		info.ErrorCode = &code
		fi := &failureInfoJSON{
			Type: c.exceptionType(), Message: q.err.Message, Suppressed: []any{},
			Stack: []string{}, ErrorLocation: q.err.ErrorLocation, ErrorCode: code,
		}
		if q.err.FailureInfo != nil {
			fi.Type = q.err.FailureInfo.Type
		}
		info.FailureInfo = fi
	}
	return info
}

// errorCode is the ErrorCode document of e in the flavor's shape.
func (c *Coordinator) errorCode(e *protocol.QueryError) errorCodeJSON {
	code := errorCodeJSON{Code: e.ErrorCode, Name: e.ErrorName, Type: e.ErrorType}
	if c.opts.Flavor == events.ProtocolPresto {
		code.Retriable = &e.Retriable
	} else {
		fatal := e.ErrorType == string(protocol.UserError)
		code.Fatal = &fatal
	}
	return code
}

// queryStats builds the queryStats document of q at now.
func (c *Coordinator) queryStats(q *query, now time.Time) queryStatsJSON {
	queued, elapsed, execution := q.times(now)
	rows, size := q.processedRows(), formatSize(q.processedBytes())
	st := queryStatsJSON{
		CreateTime:                 formatTime(q.createdAt),
		LastHeartbeat:              formatTime(now),
		QueuedTime:                 formatDuration(queued),
		ElapsedTime:                formatDuration(elapsed),
		ExecutionTime:              formatDuration(execution),
		UserMemoryReservation:      formatSize(q.reservedMemory()),
		TotalMemoryReservation:     formatSize(q.reservedMemory()),
		PeakUserMemoryReservation:  formatSize(q.peakMemory()),
		PeakTotalMemoryReservation: formatSize(q.peakMemory()),
		CumulativeUserMemory:       float64(q.peakMemory()) * execution.Seconds(),
		TotalCPUTime:               formatDuration(q.cpuTime()),
		TotalScheduledTime:         formatDuration(q.cpuTime()),
		FullyBlocked:               q.blocked(),
		BlockedReasons:             []string{},
		RawInputDataSize:           size,
		RawInputPositions:          rows,
		ProcessedInputDataSize:     size,
		ProcessedInputPositions:    rows,
		OutputDataSize:             size,
		OutputPositions:            rows,
	}
	if q.dispatched {
		st.ExecutionStartTime = formatTime(q.startedAt)
		st.TotalDrivers = 1
	}
	switch {
	case q.phase == phaseRunning && q.result.Blocked:
		st.BlockedDrivers = 1
	case q.phase == phaseRunning:
		st.RunningDrivers = 1
	case q.phase == phaseFinished:
		st.CompletedDrivers = 1
		st.ProgressPercentage = 100
	}
	if q.done() {
		st.EndTime = formatTime(q.endedAt)
	}
	return st
}

// session builds the session document of q from its parsed headers.
func (c *Coordinator) session(q *query) sessionJSON {
	s := q.spec
	out := sessionJSON{
		QueryID: q.id, TransactionID: s.TransactionID, User: s.User, OriginalUser: s.OriginalUser,
		Principal: q.principal, Groups: []string{}, Source: s.Source, Catalog: s.Catalog,
		Schema: s.Schema, Path: s.Path, TraceToken: s.TraceToken, TimeZone: s.TimeZone,
		Locale: strings.ReplaceAll(s.Language, "-", "_"), UserAgent: q.header.Get("User-Agent"),
		ClientInfo: s.ClientInfo, ClientTags: append([]string{}, s.ClientTags...),
		ResourceEstimates: resourceEstimates(s.ResourceEstimate), Start: formatTime(q.registeredAt),
		SystemProperties: map[string]string{}, CatalogProperties: map[string]map[string]string{},
		CatalogRoles: map[string]selectedRoleJSON{}, PreparedStatements: map[string]string{},
		ProtocolName: string(c.opts.Flavor),
	}
	if out.OriginalUser == "" && c.opts.Flavor == events.ProtocolTrino {
		out.OriginalUser = s.User
	}
	sort.Strings(out.ClientTags)
	for k, v := range s.Session {
		if catalog, name, ok := strings.Cut(k, "."); ok {
			if out.CatalogProperties[catalog] == nil {
				out.CatalogProperties[catalog] = map[string]string{}
			}
			out.CatalogProperties[catalog][name] = v
			continue
		}
		out.SystemProperties[k] = v
	}
	for k, v := range s.Roles {
		out.CatalogRoles[k] = selectedRole(v)
	}
	for k, v := range s.PreparedStmts {
		out.PreparedStatements[k] = v
	}
	return out
}

// selectedRole parses a role header value: ROLE{name}, ALL or NONE.
func selectedRole(v string) selectedRoleJSON {
	if name, ok := strings.CutPrefix(v, "ROLE{"); ok {
		return selectedRoleJSON{Type: "ROLE", Role: strings.TrimSuffix(name, "}")}
	}
	return selectedRoleJSON{Type: strings.ToUpper(v)}
}

// resourceEstimates converts the Resource-Estimate header to ResourceEstimates.
func resourceEstimates(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch strings.ToUpper(k) {
		case "EXECUTION_TIME":
			if d, err := protocol.ParseDuration(v); err == nil {
				out["executionTime"] = formatDuration(d)
			}
		case "CPU_TIME":
			if d, err := protocol.ParseDuration(v); err == nil {
				out["cpuTime"] = formatDuration(d)
			}
		case "PEAK_MEMORY":
			if n, err := protocol.ParseDataSize(v); err == nil {
				out["peakMemoryBytes"] = n
			}
		}
	}
	return out
}
