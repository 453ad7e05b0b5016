package events

import (
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// CloudEvents types, one per payload.
const (
	TypeQuerySubmitted       = "io.sluice.query.submitted.v1"
	TypeQueryCancelRequested = "io.sluice.query.cancel-requested.v1"
	TypeQueryAdmitted        = "io.sluice.query.admitted.v1"
	TypeQueryQueued          = "io.sluice.query.queued.v1"
	TypeAdmissionTerm        = "io.sluice.admission.term.v1"
	TypeQueryRejected        = "io.sluice.query.rejected.v1"
	TypeQueryPlaced          = "io.sluice.query.placed.v1"
	TypeQueryStarted         = "io.sluice.query.started.v1"
	TypeQueryFinished        = "io.sluice.query.finished.v1"
	TypeQueryFailed          = "io.sluice.query.failed.v1"
	TypeQueryCanceled        = "io.sluice.query.canceled.v1"
	TypeQueryDispatchFailed  = "io.sluice.query.dispatch-failed.v1"
	TypeQueryProgress        = "io.sluice.query.progress.v1"
	TypeFragment             = "io.sluice.fragment.v1"
	TypeFragmentBatch        = "io.sluice.fragment-batch.v1"
	TypeFragmentOutcomes     = "io.sluice.fragment-outcomes.v1"
)

// TypeForSubject maps a lifecycle subject to its CloudEvents type.
var TypeForSubject = map[string]string{
	SubjectSubmitted:       TypeQuerySubmitted,
	SubjectCancelRequested: TypeQueryCancelRequested,
	SubjectAdmitted:        TypeQueryAdmitted,
	SubjectQueued:          TypeQueryQueued,
	SubjectRejected:        TypeQueryRejected,
	SubjectPlaced:          TypeQueryPlaced,
	SubjectStarted:         TypeQueryStarted,
	SubjectFinished:        TypeQueryFinished,
	SubjectFailed:          TypeQueryFailed,
	SubjectCanceled:        TypeQueryCanceled,
	SubjectDispatchFailed:  TypeQueryDispatchFailed,
	SubjectProgress:        TypeQueryProgress,
}

// Protocol is the client header family a query arrived with.
type Protocol string

// Header families.
const (
	ProtocolTrino  Protocol = "trino"
	ProtocolPresto Protocol = "presto"
)

// QuerySpec is everything that defines a query, captured from the client's POST. It travels
// with the query to the executor.
type QuerySpec struct {
	ID               string            `json:"id"`
	SQL              string            `json:"sql"`
	Protocol         Protocol          `json:"protocol"`
	User             string            `json:"user"`
	OriginalUser     string            `json:"originalUser,omitempty"`
	Source           string            `json:"source,omitempty"`
	Catalog          string            `json:"catalog,omitempty"`
	Schema           string            `json:"schema,omitempty"`
	Path             string            `json:"path,omitempty"`
	TimeZone         string            `json:"timeZone,omitempty"`
	Language         string            `json:"language,omitempty"`
	TraceToken       string            `json:"traceToken,omitempty"`
	ClientInfo       string            `json:"clientInfo,omitempty"`
	ClientTags       []string          `json:"clientTags,omitempty"`
	Session          map[string]string `json:"session,omitempty"`
	Roles            map[string]string `json:"roles,omitempty"`
	PreparedStmts    map[string]string `json:"preparedStatements,omitempty"`
	ExtraCredentials map[string]string `json:"extraCredentials,omitempty"`
	ResourceEstimate map[string]string `json:"resourceEstimate,omitempty"`
	RoutingGroup     string            `json:"routingGroup,omitempty"`
	TransactionID    string            `json:"transactionId,omitempty"`
	// SealedAuthorization is the client's Authorization header, encrypted by ingest with
	// SLUICE_CREDENTIALS_KEY (pkg/sealed) for executor-proxies that forward credentials
	// to a coordinator; empty when no key is configured.
	SealedAuthorization string    `json:"sealedAuthorization,omitempty"`
	SubmittedAt         time.Time `json:"submittedAt"`

	// Kind is what the query carries: SQL text (KindSQL, also "") or a Substrait plan.
	Kind QueryKind `json:"kind,omitempty"`
	// Plan is a plan query's Substrait Plan, binary protobuf, when it is at most
	// InlinePlanLimit bytes; larger plans are in the ObjectPlans store under PlanObject.
	Plan       []byte `json:"plan,omitempty"`
	PlanObject string `json:"planObject,omitempty"`
	// Priority is the declared priority of a plan query's fragments (higher runs sooner).
	Priority int `json:"priority,omitempty"`
	// CostEstimate is the declared executor time of a plan query, in seconds (0: the
	// scheduler estimates it from the plan).
	CostEstimate float64 `json:"costEstimate,omitempty"`
}

// QueryKind is what a query carries.
type QueryKind string

// Query kinds.
const (
	KindSQL  QueryKind = "sql"
	KindPlan QueryKind = "plan"
)

// IsPlan reports whether the query is a Substrait plan.
func (q QuerySpec) IsPlan() bool { return q.Kind == KindPlan }

// InlinePlanLimit is the largest plan carried inside the submitted event; a larger one
// goes to the ObjectPlans object store (a JetStream message is at most 1 MiB by default).
const InlinePlanLimit = 256 << 10

// FragmentPlanObject is the ObjectPlans name of a fragment's plan stored there (beside
// the query's own large plan, named by the query ID).
func FragmentPlanObject(queryID, fragmentID string) string {
	return queryID + "/fragments/" + fragmentID
}

// QuerySubmitted is published by ingest once the query is accepted.
type QuerySubmitted struct {
	Query QuerySpec `json:"query"`
}

// QueryCancelRequested is published by ingest when a client cancels.
type QueryCancelRequested struct {
	QueryID string `json:"queryId"`
	Reason  string `json:"reason,omitempty"`
}

// QueryAdmitted is published by the admission leader. LeaseRevision is the lease revision
// of the leader that decided; Group is the resource group that holds the query's slot
// (dotted, for people), GroupID its segments (a segment expanded from a user name may
// contain dots) and GroupTemplate the same path with the configured, unexpanded names.
type QueryAdmitted struct {
	Query         QuerySpec `json:"query"`
	Group         string    `json:"group"`
	GroupID       []string  `json:"groupId,omitempty"`
	GroupTemplate []string  `json:"groupTemplate,omitempty"`
	LeaseRevision uint64    `json:"leaseRevision"`
	AdmittedAt    time.Time `json:"admittedAt"`
	// Priority and MemoryBytes are what the resource groups account the query with (the
	// query_priority session property and the declared PEAK_MEMORY).
	Priority    int64 `json:"priority,omitempty"`
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
}

// QueryQueued is published by the admission leader when a submitted query must wait: it
// now counts against maxQueued of Group and every ancestor.
type QueryQueued struct {
	QueryID       string    `json:"queryId"`
	Group         string    `json:"group"`
	GroupID       []string  `json:"groupId,omitempty"`
	GroupTemplate []string  `json:"groupTemplate,omitempty"`
	LeaseRevision uint64    `json:"leaseRevision"`
	QueuedAt      time.Time `json:"queuedAt"`
	Priority      int64     `json:"priority,omitempty"`
	MemoryBytes   int64     `json:"memoryBytes,omitempty"`
	// Reason is why the query could not start when it was queued.
	Reason string `json:"reason,omitempty"`
}

// AdmissionTerm marks the start of an admission leader's term in the QUERIES stream.
type AdmissionTerm struct {
	Holder        string    `json:"holder"`
	LeaseRevision uint64    `json:"leaseRevision"`
	At            time.Time `json:"at"`
}

// QueryPlaced is published by placement with the chosen cluster.
type QueryPlaced struct {
	Query    QuerySpec `json:"query"`
	Cluster  string    `json:"cluster"`
	Attempt  int       `json:"attempt"`
	PlacedAt time.Time `json:"placedAt"`
	// MemoryBytes is the memory estimate the placement used (kept for a later move).
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// Reason explains the choice (scores of the candidates).
	Reason string `json:"reason,omitempty"`
}

// QueryStarted is published by the executor-proxy that runs the query. NextURI is the
// absolute executing URL the client is handed over to.
type QueryStarted struct {
	QueryID   string    `json:"queryId"`
	Cluster   string    `json:"cluster"`
	Attempt   int       `json:"attempt"`
	NextURI   string    `json:"nextUri"`
	StartedAt time.Time `json:"startedAt"`
	// EngineQueryID is the query's ID on a Trino coordinator, which assigns its own ("" when
	// it is the Sluice ID, as on Presto and DuckDB clusters).
	EngineQueryID string `json:"engineQueryId,omitempty"`
}

// QueryDispatchFailed is published by an executor-proxy that could not hand a placed query
// to its cluster before it started (connection refused, 5xx, the coordinator not ready).
// The query ran nowhere: placement places it again on another cluster, up to its attempt
// limit.
type QueryDispatchFailed struct {
	QueryID string         `json:"queryId"`
	Cluster string         `json:"cluster"`
	Attempt int            `json:"attempt"`
	Error   QueryErrorInfo `json:"error"`
	At      time.Time      `json:"at"`
}

// QueryProgress is published by the executor-proxy of a coordinator cluster while a query
// runs, when its memory reservation changed notably (at most every
// SLUICE_PROGRESS_INTERVAL): admission counts a running query's memory against the soft
// memory limits of its groups from it, as a coordinator counts its queries' reservations.
type QueryProgress struct {
	QueryID string `json:"queryId"`
	Cluster string `json:"cluster"`
	Attempt int    `json:"attempt"`
	// MemoryBytes is the user memory the query holds now.
	MemoryBytes int64 `json:"memoryBytes"`
	// CPUTimeMillis is the CPU time the query used so far (charged when it ends).
	CPUTimeMillis int64     `json:"cpuTimeMillis"`
	At            time.Time `json:"at"`
}

// QueryEnded is the payload of every terminal event: finished, failed, canceled, rejected.
type QueryEnded struct {
	QueryID string    `json:"queryId"`
	Cluster string    `json:"cluster,omitempty"`
	EndedAt time.Time `json:"endedAt"`
	// Error is set for failed, canceled and rejected queries.
	Error *QueryErrorInfo `json:"error,omitempty"`
	// Rows is the number of result rows of a finished query.
	Rows int64 `json:"rows,omitempty"`
	// CPUTimeMillis is the CPU time the cluster reports for the query, charged to the CPU
	// quotas of its resource groups (finished queries and user errors only).
	CPUTimeMillis int64 `json:"cpuTimeMillis,omitempty"`
	// PeakMemoryBytes is the peak user memory the cluster reports for the query (0 when
	// it does not measure it).
	PeakMemoryBytes int64 `json:"peakMemoryBytes,omitempty"`
	// By names the component that ended the query.
	By string `json:"by"`
}

// QueryErrorInfo is the protocol error carried by terminal events (the JSON shape of the
// client protocol's QueryError).
type QueryErrorInfo struct {
	Message   string `json:"message"`
	ErrorCode int    `json:"errorCode"`
	ErrorName string `json:"errorName"`
	ErrorType string `json:"errorType"`
	Line      int    `json:"lineNumber,omitempty"`
	Column    int    `json:"columnNumber,omitempty"`
}

// ErrorInfoOf is the terminal-event form of a protocol error, with its location (nil for
// nil).
func ErrorInfoOf(qe *protocol.QueryError) *QueryErrorInfo {
	if qe == nil {
		return nil
	}
	info := &QueryErrorInfo{Message: qe.Message, ErrorCode: qe.ErrorCode, ErrorName: qe.ErrorName, ErrorType: qe.ErrorType}
	if qe.ErrorLocation != nil {
		info.Line, info.Column = qe.ErrorLocation.LineNumber, qe.ErrorLocation.ColumnNumber
	}
	return info
}

// Fragment is one unit of work for an executor-proxy. For SQL queries a fragment is the whole
// query.
type Fragment struct {
	Query      QuerySpec `json:"query"`
	FragmentID string    `json:"fragmentId"`
	Cluster    string    `json:"cluster"`
	Attempt    int       `json:"attempt"`
	// SQL is the text the executor runs for this fragment (SQL queries).
	SQL string `json:"sql,omitempty"`

	// The fields below are set for the fragments of plan queries.

	// Plan is the fragment's own Substrait Plan, binary protobuf: it reads its children
	// through ["__sluice_fragment", childID] placeholder tables.
	Plan []byte `json:"plan,omitempty"`
	// PlanObject names the fragment's plan in the ObjectPlans store when it is larger than
	// the scheduler carries in a batch (Plan is then empty); see FragmentPlanObject.
	PlanObject string `json:"planObject,omitempty"`
	// Root marks the fragment whose rows are the query's result (the client is handed to
	// the executor that runs it).
	Root bool `json:"root,omitempty"`
	// Inputs are the outputs of the children the plan reads.
	Inputs []FragmentOutput `json:"inputs,omitempty"`
	// Dispatch counts the releases of this fragment (retries), for deduplication.
	Dispatch int `json:"dispatch,omitempty"`
	// Home is the query's cluster, whose placement claim allows the fragment to run;
	// another cluster than Cluster when Cluster took the fragment off Home's queue
	// ("": Cluster).
	Home string `json:"home,omitempty"`
	// Region is the hint where the fragment's inputs are; executors of that region were
	// preferred (a fragment waits a bounded time for them).
	Region string `json:"region,omitempty"`
	// ReleasedAt is when the scheduler released the fragment to the cluster.
	ReleasedAt time.Time `json:"releasedAt,omitzero"`
	// Trace is the W3C trace context of the fragment's release (plan fragments travel in
	// batches, whose headers carry the batch's own).
	Trace map[string]string `json:"trace,omitempty"`
}

// FragmentBatch is one PLAN_FRAGMENTS message: the plan fragments the scheduler released
// to one cluster at the same time. Batching amortizes the per-message cost of JetStream
// under load; an idle scheduler releases one fragment per batch.
type FragmentBatch struct {
	Fragments []Fragment `json:"fragments"`
}

// FragmentOutcomes is one FRAGMENT_STATUS message: the outcomes an executor-proxy reported
// together (those that arrived while its previous report was being stored).
type FragmentOutcomes struct {
	Done   []FragmentDone   `json:"done,omitempty"`
	Failed []FragmentFailed `json:"failed,omitempty"`
}

// Len is the number of outcomes.
func (o FragmentOutcomes) Len() int { return len(o.Done) + len(o.Failed) }

// FragmentOutput is where a finished fragment's intermediate result is: a Parquet file
// at Path (on a disk the executors share) and, when executors do not share a disk, the
// same file in the ObjectResults store under Object.
type FragmentOutput struct {
	Fragment string `json:"fragment"`
	Cluster  string `json:"cluster"`
	Path     string `json:"path,omitempty"`
	Object   string `json:"object,omitempty"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
}

// FragmentRun identifies one release of a plan fragment and the cluster that ran it; the
// outcome events embed it (its fields appear at the top level of their JSON).
type FragmentRun struct {
	QueryID    string `json:"queryId"`
	FragmentID string `json:"fragmentId"`
	Cluster    string `json:"cluster"`
	Attempt    int    `json:"attempt"`
	Dispatch   int    `json:"dispatch"`
}

// FragmentDone is reported by an executor-proxy when a non-root fragment of a plan query
// finished and its output is stored, or when a root finished (its output has no file: the
// client read its rows; the query's terminal event goes alongside and stays the authority
// on the query's end).
type FragmentDone struct {
	FragmentRun
	Output     FragmentOutput `json:"output"`
	ReleasedAt time.Time      `json:"releasedAt,omitzero"`
	StartedAt  time.Time      `json:"startedAt"`
	EndedAt    time.Time      `json:"endedAt"`
}

// FragmentFailed is reported by an executor-proxy when a fragment of a plan query
// failed. Retriable failures (I/O, a missing input) are run again by the scheduler, after
// rerunning the children named in MissingInputs; others fail the query with Error.
type FragmentFailed struct {
	FragmentRun
	Error         *QueryErrorInfo `json:"error"`
	Retriable     bool            `json:"retriable,omitempty"`
	MissingInputs []string        `json:"missingInputs,omitempty"`
	StartedAt     time.Time       `json:"startedAt,omitzero"`
	EndedAt       time.Time       `json:"endedAt"`
}

// ClusterState is the lifecycle state a cluster reports.
type ClusterState string

// Cluster states.
const (
	ClusterStarting    ClusterState = "starting"
	ClusterReady       ClusterState = "ready"
	ClusterUnhealthy   ClusterState = "unhealthy"
	ClusterDraining    ClusterState = "draining"
	ClusterDrained     ClusterState = "drained"
	ClusterDeactivated ClusterState = "deactivated"
)

// ClusterHeartbeat is the value an executor-proxy puts into BucketClusters under its name.
type ClusterHeartbeat struct {
	Name    string       `json:"name"`
	URL     string       `json:"url"`
	Engine  string       `json:"engine"`
	State   ClusterState `json:"state"`
	Slots   int          `json:"slots"`
	Running int          `json:"running"`
	Queued  int          `json:"queued"`
	// MemoryBytes is the memory the cluster can give queries; summed over ready clusters it
	// is the fleet memory that percentage softMemoryLimits are shares of.
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// Region, RoutingGroup and Tables (catalog.schema.table) describe the cluster as it
	// knows itself; an entry of the clusters file (SLUICE_CLUSTERS) overrides them.
	Region       string   `json:"region,omitempty"`
	RoutingGroup string   `json:"routingGroup,omitempty"`
	Tables       []string `json:"tables,omitempty"`
	// UsedMemoryBytes is the memory its running queries hold now (0 when unknown).
	UsedMemoryBytes int64 `json:"usedMemoryBytes,omitempty"`
	// CPULoad is the busy share of the cluster's CPUs since the previous heartbeat, 0 to 1
	// (0 when unknown).
	CPULoad float64   `json:"cpuLoad,omitempty"`
	At      time.Time `json:"at"`
}

// ClusterWish is what an operator asked of a cluster (BucketClusterControl).
type ClusterWish string

// Cluster wishes. Resuming a cluster deletes its control entry.
const (
	// WishDrain: no new placements; running queries finish; the cluster reports drained
	// once idle.
	WishDrain ClusterWish = "drain"
	// WishDeactivate: like drain, and the cluster stays out of placement until resumed.
	WishDeactivate ClusterWish = "deactivate"
)

// ClusterControl is the value of BucketClusterControl under a cluster name.
type ClusterControl struct {
	Wish   ClusterWish `json:"wish"`
	By     string      `json:"by,omitempty"`
	Reason string      `json:"reason,omitempty"`
	At     time.Time   `json:"at"`
}

// ClaimState is where a placed query is in its claim.
type ClaimState string

// Claim states.
const (
	// ClaimPlaced: the query may start on Cluster at Attempt; placement may still move it.
	ClaimPlaced ClaimState = "placed"
	// ClaimStarted: Cluster started it; it does not move any more.
	ClaimStarted ClaimState = "started"
	// ClaimLost: its cluster was lost while it ran; no executor may start it.
	ClaimLost ClaimState = "lost"
	// ClaimDispatchFailed: Cluster could not hand the query to its engine, so it ran
	// nowhere; placement may move it to another cluster.
	ClaimDispatchFailed ClaimState = "dispatch-failed"
)

// PlacementClaim is the value of BucketPlacements under a query ID.
type PlacementClaim struct {
	Cluster string     `json:"cluster"`
	Attempt int        `json:"attempt"`
	State   ClaimState `json:"state"`
	At      time.Time  `json:"at"`
}

// QueryState is the state recorded in the status view.
type QueryState string

// Query states of the status view, in lifecycle order.
const (
	StateQueued   QueryState = "QUEUED"
	StateAdmitted QueryState = "ADMITTED"
	StatePlaced   QueryState = "PLACED"
	StateRunning  QueryState = "RUNNING"
	StateFinished QueryState = "FINISHED"
	StateFailed   QueryState = "FAILED"
	StateCanceled QueryState = "CANCELED"
)

// Terminal reports whether the state ends the query.
func (s QueryState) Terminal() bool {
	return s == StateFinished || s == StateFailed || s == StateCanceled
}

// QueryStatus is the value of BucketQueryStatus under a query ID: a fold of the query's
// lifecycle events. Seq is the stream sequence of the last event applied, which makes the
// fold idempotent.
type QueryStatus struct {
	Query           QuerySpec       `json:"query"`
	State           QueryState      `json:"state"`
	Cluster         string          `json:"cluster,omitempty"`
	NextURI         string          `json:"nextUri,omitempty"`
	Error           *QueryErrorInfo `json:"error,omitempty"`
	CancelRequested bool            `json:"cancelRequested,omitempty"`
	// Group is the resource group admission put the query in ("" until it decided).
	Group string `json:"group,omitempty"`
	// QueuedReason is why the query could not start when admission queued it.
	QueuedReason string    `json:"queuedReason,omitempty"`
	AdmittedAt   time.Time `json:"admittedAt,omitzero"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	EndedAt      time.Time `json:"endedAt,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	// EngineQueryID is the query's ID on its cluster when that differs (Trino).
	EngineQueryID string `json:"engineQueryId,omitempty"`
	// MemoryBytes and CPUTimeMillis are the latest progress of a running query.
	MemoryBytes   int64 `json:"memoryBytes,omitempty"`
	CPUTimeMillis int64 `json:"cpuTimeMillis,omitempty"`
	// DispatchErrors lists the dispatches that failed before the query started, as
	// "<cluster>: <message>", oldest first.
	DispatchErrors []string `json:"dispatchErrors,omitempty"`
	Seq            uint64   `json:"seq"`
}

// SchedulerLoad is what the fragment scheduler holds: ingest refuses new plans with
// QUERY_QUEUE_FULL while QueuedFragments >= MaxQueuedFragments (> 0), or while HeapBytes
// >= MemorySoftLimit (> 0).
type SchedulerLoad struct {
	QueuedFragments    int `json:"queuedFragments"`
	MaxQueuedFragments int `json:"maxQueuedFragments"`
	Queries            int `json:"queries"`
	// HeapBytes is the Go heap in use by the scheduler's process; MemorySoftLimit is the
	// scheduler's memory soft limit (0: none).
	HeapBytes       int64     `json:"heapBytes,omitempty"`
	MemorySoftLimit int64     `json:"memorySoftLimit,omitempty"`
	At              time.Time `json:"at"`
}
