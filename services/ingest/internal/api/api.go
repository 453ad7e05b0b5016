// Package api serves the client statement protocol (Trino and Presto header families) at
// Sluice's front door: submit SQL (POST /v1/statement) or a Substrait plan (POST /v1/plan)
// into the global queue, queued polling with long-poll and handoff to the executing
// cluster by nextUri, cancel, query info and /v1/info.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sealed"
	"github.com/sluicehq/sluice/services/ingest/internal/clusters"
	"github.com/sluicehq/sluice/services/ingest/internal/explain"
	"github.com/sluicehq/sluice/services/ingest/internal/slug"
	"github.com/sluicehq/sluice/services/ingest/internal/statusview"
	"go.opentelemetry.io/otel/trace"
)

// maxWait caps a long poll, as both engines do.
const maxWait = time.Second

// Options configures the handler.
type Options struct {
	// PublicURL is the base of minted URLs; empty means derive it from the request.
	PublicURL string
	// MaxQueryBytes bounds the SQL text.
	MaxQueryBytes int
	// Version is reported by /v1/info.
	Version string
	// ClientTimeout: a queued query whose client stopped polling for this long is canceled
	// as ABANDONED_QUERY.
	ClientTimeout time.Duration
	// VerdictWait is how long a POST waits for admission's verdict (queued, admitted or
	// rejected) so that a full queue or an unmatched selector fails the POST itself. After
	// it the POST answers QUEUED and the verdict shows on the next poll.
	VerdictWait time.Duration
	// Explain asks admission why queries wait and for resource-group state; nil disables it.
	Explain *explain.Client
	// Clusters serves the cluster admin API (/v1/clusters); nil disables it.
	Clusters *clusters.Admin
	// AdminToken, when set, is the bearer token the admin API requires.
	AdminToken string
	// Credentials, when set, seals each client's Authorization header into its query, for
	// executor-proxies that forward credentials to a coordinator.
	Credentials *sealed.Key
	// Plans stores plans larger than events.InlinePlanLimit (the events.ObjectPlans
	// object store); nil refuses them.
	Plans jetstream.ObjectStore
	// SchedulerLoad tells whether the fragment scheduler's queue is full; nil: never.
	SchedulerLoad LoadGauge
}

// LoadGauge reports the fragment scheduler's load and whether its queue is full.
type LoadGauge interface {
	Load() (events.SchedulerLoad, bool)
}

// Server is the HTTP handler of ingest.
type Server struct {
	opts    Options
	pub     *events.Publisher
	cache   *statusview.Cache
	minter  *slug.Minter
	tracer  trace.Tracer
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex
	tokens   map[string]uint64    // last queued token served per query (this replica)
	lastSeen map[string]time.Time // last POST or poll per query (this replica)
	mux      *http.ServeMux
}

// New returns the handler.
func New(opts Options, pub *events.Publisher, cache *statusview.Cache, minter *slug.Minter, tracer trace.Tracer, log *slog.Logger) *Server {
	if opts.MaxQueryBytes <= 0 {
		opts.MaxQueryBytes = 1 << 20
	}
	s := &Server{opts: opts, pub: pub, cache: cache, minter: minter, tracer: tracer, log: log,
		started: time.Now(), tokens: map[string]uint64{}, lastSeen: map[string]time.Time{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/statement", s.submitStatement)
	s.mux.HandleFunc("POST /v1/plan", s.submitPlan)
	s.mux.HandleFunc("GET /v1/statement/queued/{rest...}", s.queuedGet)
	s.mux.HandleFunc("DELETE /v1/statement/queued/{rest...}", s.queuedDelete)
	s.mux.HandleFunc("DELETE /v1/statement/executing/{rest...}", s.strayExecutingDelete)
	s.mux.HandleFunc("GET /v1/query/{id}", s.queryInfo)
	s.mux.HandleFunc("DELETE /v1/query/{id}", s.queryKill)
	s.mux.HandleFunc("GET /v1/info", s.info)
	s.mux.HandleFunc("GET /v1/info/state", s.infoState)
	s.mux.HandleFunc("GET /ui/query/{id}", s.queryInfo)
	s.mux.HandleFunc("GET /v1/resourceGroupState", s.resourceGroupState)
	s.mux.HandleFunc("GET /v1/resourceGroupState/{group...}", s.resourceGroupState)
	s.mux.HandleFunc("GET /v1/clusters", s.listClusters)
	s.mux.HandleFunc("GET /v1/clusters/{name}", s.getCluster)
	s.mux.HandleFunc("POST /v1/clusters/{name}/{action}", s.clusterAction)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) base(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		proto = p
	}
	return proto + "://" + r.Host
}

func (s *Server) queuedURI(base string, proto events.Protocol, id string, token uint64) string {
	if proto == events.ProtocolPresto {
		return fmt.Sprintf("%s/v1/statement/queued/%s/%d?slug=%s", base, id, token, s.minter.Query(id))
	}
	return fmt.Sprintf("%s/v1/statement/queued/%s/%s/%d", base, id, s.minter.Queued(id, token), token)
}

func infoURI(base, id string) string { return base + "/ui/query/" + id }

// queuedPath parses both URL shapes: Trino {id}/{slug}/{token}, Presto {id}/{token}?slug=.
func (s *Server) queuedPath(r *http.Request) (id string, token uint64, ok bool) {
	parts := strings.Split(r.PathValue("rest"), "/")
	var slugVal, tok string
	switch len(parts) {
	case 3:
		id, slugVal, tok = parts[0], parts[1], parts[2]
	case 2:
		id, tok, slugVal = parts[0], parts[1], r.URL.Query().Get("slug")
	default:
		return "", 0, false
	}
	t, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		return "", 0, false
	}
	if len(parts) == 3 {
		return id, t, s.minter.CheckQueued(id, t, slugVal)
	}
	return id, t, s.minter.CheckQuery(id, slugVal)
}

func parseMaxWait(r *http.Request) time.Duration {
	v := r.URL.Query().Get("maxWait")
	if v == "" {
		return maxWait
	}
	d, err := protocol.ParseDuration(v)
	if err != nil || d > maxWait {
		return maxWait
	}
	if d < 0 {
		return 0
	}
	return d
}

// queuedGet: GET on a queued URL. A long poll that answers at once when the query moves,
// hands the client over to its cluster by nextUri, or reports the failure.
func (s *Server) queuedGet(w http.ResponseWriter, r *http.Request) {
	id, token, ok := s.queuedPath(r)
	if !ok {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	wait := parseMaxWait(r)
	deadline := time.Now().Add(wait)
	st, known := s.lookup(r.Context(), id, deadline)
	if !known {
		http.Error(w, "Query not found", http.StatusGone)
		return
	}
	s.mu.Lock()
	last, seen := s.tokens[id]
	if seen && token != last && token != last+1 {
		s.mu.Unlock()
		http.Error(w, fmt.Sprintf("Query %s: token %d is stale (last served %d)", id, token, last), http.StatusGone)
		return
	}
	s.tokens[id] = token
	s.lastSeen[id] = time.Now()
	s.mu.Unlock()

	st = s.waitForChange(r.Context(), id, st, deadline)
	base := s.base(r)
	q := st.Query
	switch {
	case st.State == events.StateFinished && st.NextURI != "", !st.State.Terminal() && st.NextURI != "":
		// Handoff: the executing URL on the cluster that runs (or ran) the query.
		writeJSON(w, protocol.QueryResults{
			ID: id, InfoURI: infoURI(base, id), NextURI: st.NextURI,
			Stats:    protocol.StatementStats{State: protocol.StateRunning, Scheduled: true, QueuedTimeMillis: QueuedMillis(st), ElapsedTimeMillis: ElapsedMillis(st)},
			Warnings: []protocol.Warning{},
		})
	case st.State.Terminal():
		qe := toProtocolError(st.Error, st.State)
		writeJSON(w, protocol.QueryResults{
			ID: id, InfoURI: infoURI(base, id),
			Stats:    protocol.StatementStats{State: protocol.StateFailed, QueuedTimeMillis: QueuedMillis(st), ElapsedTimeMillis: ElapsedMillis(st)},
			Error:    qe,
			Warnings: []protocol.Warning{},
		})
	default:
		stats := protocol.QueuedStats(QueuedMillis(st), ElapsedMillis(st))
		stats.QueuedReason = s.queuedReason(r.Context(), st)
		writeJSON(w, protocol.QueryResults{
			ID: id, InfoURI: infoURI(base, id), NextURI: s.queuedURI(base, q.Protocol, id, token+1),
			Stats: stats, Warnings: []protocol.Warning{},
		})
	}
}

// Reap forgets queries that ended or were handed over, and cancels (reason "abandoned")
// queued queries whose client has not polled this replica for ClientTimeout. It returns
// the IDs it abandoned.
func (s *Server) Reap(ctx context.Context, now time.Time) []string {
	type entry struct {
		id   string
		seen time.Time
	}
	s.mu.Lock()
	var check []entry
	for id, seen := range s.lastSeen {
		check = append(check, entry{id, seen})
	}
	s.mu.Unlock()
	var abandoned []string
	for _, e := range check {
		st, ok := s.cache.Get(e.id)
		forget := ok && (st.State.Terminal() || st.NextURI != "")
		if !forget && s.opts.ClientTimeout > 0 && now.Sub(e.seen) > s.opts.ClientTimeout {
			_, err := s.pub.Publish(ctx, events.SubjectCancelRequested, events.MsgIDCancelRequested(e.id), e.id,
				events.TypeQueryCancelRequested, events.QueryCancelRequested{QueryID: e.id, Reason: "abandoned"})
			if err != nil {
				continue
			}
			abandoned = append(abandoned, e.id)
			forget = true
		}
		if forget {
			s.mu.Lock()
			delete(s.lastSeen, e.id)
			delete(s.tokens, e.id)
			s.mu.Unlock()
		}
	}
	return abandoned
}

// queuedReason says why the query has not started: admission's live explanation while it
// is queued (e.g. "global.adhoc.alice: 3/3 running (hardConcurrencyLimit)"), else what the
// status view knows.
func (s *Server) queuedReason(ctx context.Context, st *events.QueryStatus) string {
	if st.State == events.StateQueued && !st.CancelRequested && s.opts.Explain != nil {
		if q, err := s.opts.Explain.Query(ctx, st.Query.ID); err == nil && q.Reason != "" && (q.State == "QUEUED" || q.State == "PENDING") {
			return q.Reason
		}
	}
	return statusReason(st)
}

func statusReason(st *events.QueryStatus) string {
	switch st.State {
	case events.StateQueued:
		if st.CancelRequested {
			return "cancel requested"
		}
		if st.QueuedReason != "" {
			return st.QueuedReason
		}
		return "waiting for admission"
	case events.StateAdmitted:
		return "admitted; waiting for a cluster with free capacity"
	case events.StatePlaced:
		return "placed on " + st.Cluster + "; waiting for a free slot"
	}
	return ""
}

// lookup returns the status of id, waiting until deadline for a query this replica has not
// seen yet (the projector may lag behind another replica's submit).
func (s *Server) lookup(ctx context.Context, id string, deadline time.Time) (*events.QueryStatus, bool) {
	select {
	case <-s.cache.Ready():
	case <-ctx.Done():
		return nil, false
	case <-time.After(time.Until(deadline)):
		return nil, false
	}
	for {
		if st, ok := s.cache.Get(id); ok {
			return st, true
		}
		ch := s.cache.Changed(id)
		if st, ok := s.cache.Get(id); ok {
			s.cache.Forget(id, ch)
			return st, true
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			s.cache.Forget(id, ch)
			return nil, false
		case <-t.C:
			s.cache.Forget(id, ch)
			st, ok := s.cache.Get(id)
			return st, ok
		}
	}
}

// hasVerdict reports whether admission decided about the query: a group (queued or
// admitted), or an end.
func hasVerdict(st *events.QueryStatus) bool {
	return st.Group != "" || st.State.Terminal() || (st.State != events.StateQueued && st.State != "")
}

// waitUntil blocks until cond holds for the query's status or the deadline passes, and
// returns the latest status (nil if unknown).
func (s *Server) waitUntil(ctx context.Context, id string, deadline time.Time, cond func(*events.QueryStatus) bool) *events.QueryStatus {
	for {
		ch := s.cache.Changed(id)
		st, ok := s.cache.Get(id)
		if ok && cond(st) {
			s.cache.Forget(id, ch)
			return st
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			s.cache.Forget(id, ch)
			return st
		case <-t.C:
			s.cache.Forget(id, ch)
			return st
		}
	}
}

// waitForChange blocks until the query is handed over or ended, or the deadline passes.
func (s *Server) waitForChange(ctx context.Context, id string, st *events.QueryStatus, deadline time.Time) *events.QueryStatus {
	for st.NextURI == "" && !st.State.Terminal() {
		ch := s.cache.Changed(id)
		if cur, ok := s.cache.Get(id); ok && cur != st {
			s.cache.Forget(id, ch)
			st = cur
			continue
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
			t.Stop()
			if cur, ok := s.cache.Get(id); ok {
				st = cur
			}
		case <-ctx.Done():
			t.Stop()
			s.cache.Forget(id, ch)
			return st
		case <-t.C:
			s.cache.Forget(id, ch)
			return st
		}
	}
	return st
}

func (s *Server) queuedDelete(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.queuedPath(r)
	if !ok {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	s.cancel(w, r, id, "canceled by the client")
}

// strayExecutingDelete: a client (presto-client-node) sent the DELETE of an executing URL
// to Sluice's host instead of the cluster's. The query ID is the first path segment.
func (s *Server) strayExecutingDelete(w http.ResponseWriter, r *http.Request) {
	id, _, _ := strings.Cut(r.PathValue("rest"), "/")
	s.cancel(w, r, id, "canceled by the client")
}

func (s *Server) queryKill(w http.ResponseWriter, r *http.Request) {
	s.cancel(w, r, s.cache.Resolve(r.PathValue("id")), "canceled by the client")
}

// cancel publishes a cancel request; admission (queued), placement (waiting for a cluster)
// or the executor-proxy (running) ends the query. 204 once the request is durable.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, id, reason string) {
	st, ok := s.lookup(r.Context(), id, time.Now().Add(200*time.Millisecond))
	if !ok {
		http.Error(w, "Query not found", http.StatusGone)
		return
	}
	if st.State.Terminal() {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	_, err := s.pub.Publish(r.Context(), events.SubjectCancelRequested, events.MsgIDCancelRequested(id), id,
		events.TypeQueryCancelRequested, events.QueryCancelRequested{QueryID: id, Reason: reason})
	if err != nil {
		http.Error(w, "cancel not recorded, retry: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// QueryInfo is the JSON answer of GET /v1/query/{id}: the fields of a coordinator's
// QueryInfo that tools read, plus the Sluice cluster and attempt count.
type QueryInfo struct {
	QueryID      string               `json:"queryId"`
	State        string               `json:"state"`
	Query        string               `json:"query"`
	Self         string               `json:"self"`
	Session      map[string]any       `json:"session"`
	QueryStats   map[string]any       `json:"queryStats"`
	ErrorType    string               `json:"errorType,omitempty"`
	FailureInfo  *protocol.QueryError `json:"failureInfo,omitempty"`
	Cluster      string               `json:"cluster,omitempty"`
	Attempts     int                  `json:"attempts,omitempty"`
	QueuedReason string               `json:"queuedReason,omitempty"`
	// ResourceGroup is the fleet-wide resource group admission put the query in.
	ResourceGroup string `json:"resourceGroupId,omitempty"`
	Scheduled     bool   `json:"scheduled"`
	// EngineQueryID is the query's ID on its Trino coordinator, when that assigned its own.
	EngineQueryID string `json:"engineQueryId,omitempty"`
	// DispatchErrors are the dispatches that failed before the query started elsewhere.
	DispatchErrors []string `json:"dispatchErrors,omitempty"`
}

func (s *Server) queryInfo(w http.ResponseWriter, r *http.Request) {
	id := s.cache.Resolve(r.PathValue("id"))
	st, ok := s.lookup(r.Context(), id, time.Now().Add(200*time.Millisecond))
	if !ok {
		http.Error(w, "Query not found", http.StatusGone)
		return
	}
	q := st.Query
	info := QueryInfo{
		QueryID: id, State: string(st.State), Query: q.SQL, Self: s.base(r) + "/v1/query/" + id,
		Session: map[string]any{"user": q.User, "source": q.Source, "catalog": q.Catalog, "schema": q.Schema,
			"clientTags": q.ClientTags, "systemProperties": q.Session, "resourceEstimates": q.ResourceEstimate},
		QueryStats: map[string]any{"createTime": q.SubmittedAt, "queuedTimeMillis": QueuedMillis(st), "elapsedTimeMillis": ElapsedMillis(st),
			"userMemoryReservationBytes": st.MemoryBytes, "cpuTimeMillis": st.CPUTimeMillis},
		Cluster: st.Cluster, Attempts: st.Attempts, QueuedReason: s.queuedReason(r.Context(), st), ResourceGroup: st.Group,
		Scheduled:     st.State == events.StateRunning || st.State == events.StateFinished,
		EngineQueryID: st.EngineQueryID, DispatchErrors: st.DispatchErrors,
	}
	if st.Error != nil {
		info.ErrorType = st.Error.ErrorType
		info.FailureInfo = toProtocolError(st.Error, st.State)
	}
	writeJSON(w, info)
}

// resourceGroupState: GET /v1/resourceGroupState/{group}, the group's fleet-wide state in
// the JSON shape of a coordinator's ResourceGroupInfo. The group ID is given with "/"
// between segments (Presto's form) or dotted. Without a group: every root group.
func (s *Server) resourceGroupState(w http.ResponseWriter, r *http.Request) {
	if s.opts.Explain == nil {
		http.Error(w, "resource-group state is not available", http.StatusServiceUnavailable)
		return
	}
	id := r.PathValue("group")
	g, err := s.opts.Explain.Group(r.Context(), id)
	switch {
	case err != nil:
		http.Error(w, "admission did not answer: "+err.Error(), http.StatusServiceUnavailable)
	case g.Error != "":
		http.Error(w, g.Error, http.StatusNotFound)
	case id == "":
		writeJSON(w, g.Groups)
	case len(g.Groups) == 1:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.Groups[0])
	default:
		http.Error(w, "resource group not found", http.StatusNotFound)
	}
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"nodeVersion": map[string]string{"version": s.opts.Version},
		"environment": "sluice",
		"coordinator": true,
		"starting":    false,
		"uptime":      time.Since(s.started).Round(time.Second).String(),
	})
}

func (s *Server) infoState(w http.ResponseWriter, r *http.Request) { writeJSON(w, "ACTIVE") }

// writeFailed answers with the QueryResults of a failed query, with HTTP status code.
func (s *Server) writeFailed(w http.ResponseWriter, code int, base, id string, qe *protocol.QueryError) {
	writeJSONStatus(w, code, protocol.QueryResults{
		ID: id, InfoURI: infoURI(base, id),
		Stats: protocol.StatementStats{State: protocol.StateFailed}, Error: qe, Warnings: []protocol.Warning{},
	})
}

// StatusError is the protocol error of a query that failed or was canceled, nil otherwise.
func StatusError(st *events.QueryStatus) *protocol.QueryError {
	if st.State != events.StateFailed && st.State != events.StateCanceled {
		return nil
	}
	return toProtocolError(st.Error, st.State)
}

func toProtocolError(e *events.QueryErrorInfo, state events.QueryState) *protocol.QueryError {
	if e == nil {
		if state == events.StateCanceled {
			return protocol.NewError(protocol.UserCanceled, "Query was canceled")
		}
		return protocol.NewError(protocol.GenericInternalError, "Query failed without an error")
	}
	qe := &protocol.QueryError{Message: e.Message, ErrorCode: e.ErrorCode, ErrorName: e.ErrorName, ErrorType: e.ErrorType,
		FailureInfo: &protocol.FailureInfo{Type: "io.sluice." + e.ErrorName, Message: e.Message, Suppressed: []protocol.FailureInfo{}, Stack: []string{}}}
	if e.Line > 0 {
		qe.ErrorLocation = &protocol.ErrorLocation{LineNumber: e.Line, ColumnNumber: e.Column}
		qe.FailureInfo.ErrorLocation = qe.ErrorLocation
	}
	return qe
}

// QueuedMillis is how long the query waited before it started (so far, if it has not).
func QueuedMillis(st *events.QueryStatus) int64 {
	end := time.Now()
	if !st.StartedAt.IsZero() {
		end = st.StartedAt
	} else if !st.EndedAt.IsZero() {
		end = st.EndedAt
	}
	if st.Query.SubmittedAt.IsZero() {
		return 0
	}
	return max(0, end.Sub(st.Query.SubmittedAt).Milliseconds())
}

// ElapsedMillis is how long the query has existed, or existed until it ended.
func ElapsedMillis(st *events.QueryStatus) int64 {
	if st.Query.SubmittedAt.IsZero() {
		return 0
	}
	end := time.Now()
	if !st.EndedAt.IsZero() {
		end = st.EndedAt
	}
	return max(0, end.Sub(st.Query.SubmittedAt).Milliseconds())
}

func writeJSON(w http.ResponseWriter, v any) { writeJSONStatus(w, http.StatusOK, v) }

// writeJSONStatus answers v as JSON with HTTP status code.
func writeJSONStatus(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		return
	}
}
