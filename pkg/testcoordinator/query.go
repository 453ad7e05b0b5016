package testcoordinator

import (
	"net/http"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// Result is the scripted outcome of a SQL text.
type Result struct {
	// Columns of the result. A column whose TypeSignature.RawType is empty gets a signature
	// derived from Type ("integer", "varchar(3)", "decimal(10,2)", "array(bigint)", …).
	Columns []protocol.Column
	// Rows are the JSON values of each row, as Trino puts them in QueryResults.data.
	Rows [][]any
	// Duration is how long the query stays RUNNING on the coordinator's clock before its
	// result is ready.
	Duration time.Duration
	// Hold keeps the query RUNNING until Release (and until Duration has elapsed).
	Hold bool
	// HoldQueued keeps the query QUEUED after submission until Release.
	HoldQueued bool
	// Blocked reports the running query as fully blocked (blockedQueries in /v1/cluster).
	Blocked bool
	// Error, when set, fails the query with it once it has run.
	Error *protocol.QueryError
	// CPUTime is the query's totalCpuTime.
	CPUTime time.Duration
	// PeakMemory is the query's peak user memory in bytes; it is reserved while it runs.
	PeakMemory int64
	// UpdateType and UpdateCount are returned for DML and DDL ("INSERT", rows).
	UpdateType  string
	UpdateCount *int64
}

// Query states as the engines report them, plus Registered.
const (
	// StateRegistered is not an engine state: the POST or PUT was answered but nobody has
	// polled the query yet, so the engine does not know it.
	StateRegistered = "REGISTERED"
	StateQueued     = protocol.StateQueued
	StateRunning    = protocol.StateRunning
	StateFinished   = protocol.StateFinished
	StateFailed     = protocol.StateFailed
	// StateWaitingForPrerequisites is Presto's state before submission.
	StateWaitingForPrerequisites = "WAITING_FOR_PREREQUISITES"
)

// phase is where a query is in its life.
type phase int

const (
	phaseRegistered phase = iota // answered the POST/PUT, never polled
	phaseQueued                  // submitted, held in the queue
	phaseRunning                 // dispatched and running
	phaseFinished
	phaseFailed
)

// query is the coordinator's state of one query; guarded by Coordinator.mu.
type query struct {
	id        string
	method    string
	sql       string
	spec      events.QuerySpec
	header    http.Header
	principal string
	denied    bool // impersonation denied
	result    Result
	syntaxErr *protocol.QueryError
	key       []byte // Trino slug key
	slug      string // Presto slug
	puts      int

	phase        phase
	registeredAt time.Time
	createdAt    time.Time // submission
	startedAt    time.Time
	endedAt      time.Time
	releasedAt   time.Time // when a run hold was released

	holdQueued, hold            bool
	releasedQueued, releasedRun bool // holds waived before submission
	cancelPending               bool
	dispatched                  bool
	err                         *protocol.QueryError

	queuedToken int64  // last queued token (0: the POST)
	execLast    int64  // last executing token served; -1 before the first
	execNext    int64  // next executing token; -1 after the final page
	execPage    []byte // the last executing page, served again for execLast
	rowsSent    int
}

// done reports whether the query has ended.
func (q *query) done() bool { return q.phase == phaseFinished || q.phase == phaseFailed }

// state returns the engine state string of q.
func (q *query) state() string {
	switch q.phase {
	case phaseQueued:
		return StateQueued
	case phaseRunning:
		return StateRunning
	case phaseFinished:
		return StateFinished
	case phaseFailed:
		return StateFailed
	}
	return StateRegistered
}

// submit runs when the first queued GET arrives: the engine creates the query.
func (c *Coordinator) submit(q *query, now time.Time) {
	q.phase = phaseQueued
	q.createdAt = now
	switch {
	case q.cancelPending:
		c.fail(q, now, c.newError(protocol.UserCanceled, "Query was canceled"))
	case c.starting:
		c.fail(q, now, c.newError(serverStartingUp, c.engineName()+" server is still initializing"))
	case q.denied:
		c.fail(q, now, c.newError(protocol.PermissionDenied,
			"Access Denied: User "+q.principal+" cannot impersonate user "+q.spec.User))
	case q.syntaxErr != nil:
		c.fail(q, now, q.syntaxErr)
	case q.result.HoldQueued && !q.releasedQueued:
		q.holdQueued = true
	default:
		c.start(q, now)
	}
}

// start dispatches a submitted query.
func (c *Coordinator) start(q *query, now time.Time) {
	q.phase = phaseRunning
	q.dispatched = true
	q.startedAt = now
	q.hold = q.result.Hold && !q.releasedRun
	c.advance(q, now)
}

// advance completes a running query whose time has come.
func (c *Coordinator) advance(q *query, now time.Time) {
	if q.phase != phaseRunning || q.hold {
		return
	}
	end := q.startedAt.Add(q.result.Duration)
	if q.releasedAt.After(end) {
		end = q.releasedAt
	}
	if now.Before(end) {
		return
	}
	if q.result.Error != nil {
		c.fail(q, end, q.result.Error)
		return
	}
	q.phase = phaseFinished
	q.endedAt = end
}

// remaining is how long a running query still needs on the clock; 0 when held or ready.
func (q *query) remaining(now time.Time) time.Duration {
	if q.phase != phaseRunning || q.hold {
		return 0
	}
	return q.startedAt.Add(q.result.Duration).Sub(now)
}

// fail ends q with e.
func (c *Coordinator) fail(q *query, now time.Time, e *protocol.QueryError) {
	q.phase = phaseFailed
	q.err = e
	q.endedAt = now
}

// cancel applies a user cancel. A query not yet submitted is canceled when it is, if
// whenSubmitted; otherwise the cancel is lost, as the engine does not know the query.
func (c *Coordinator) cancel(q *query, now time.Time, whenSubmitted bool) {
	c.advance(q, now)
	switch {
	case q.done():
	case q.phase == phaseRegistered:
		if whenSubmitted {
			q.cancelPending = true
		}
	default:
		c.fail(q, now, c.newError(protocol.UserCanceled, "Query was canceled"))
	}
	c.notifyLocked()
}

// serverStartingUp is Trino's SERVER_STARTING_UP.
var serverStartingUp = protocol.ErrorCode{Code: 65548, Name: "SERVER_STARTING_UP", Type: protocol.InternalError}

// engineName is "Trino" or "Presto".
func (c *Coordinator) engineName() string {
	if c.opts.Flavor == events.ProtocolPresto {
		return "Presto"
	}
	return "Trino"
}

// exceptionType is the class name of the engine's own exception.
func (c *Coordinator) exceptionType() string {
	if c.opts.Flavor == events.ProtocolPresto {
		return "com.facebook.presto.spi.PrestoException"
	}
	return "io.trino.spi.TrinoException"
}

// newError builds an engine error with the engine's exception type in failureInfo.
func (c *Coordinator) newError(code protocol.ErrorCode, msg string) *protocol.QueryError {
	typ := c.exceptionType()
	return &protocol.QueryError{
		Message:   msg,
		ErrorCode: code.Code,
		ErrorName: code.Name,
		ErrorType: string(code.Type),
		FailureInfo: &protocol.FailureInfo{
			Type: typ, Message: msg, Suppressed: []protocol.FailureInfo{}, Stack: []string{},
		},
	}
}

// times returns the queued, elapsed and execution times of q at now.
func (q *query) times(now time.Time) (queued, elapsed, execution time.Duration) {
	if q.phase == phaseRegistered {
		return 0, 0, 0
	}
	end := now
	if q.done() {
		end = q.endedAt
	}
	elapsed = end.Sub(q.createdAt)
	if q.dispatched {
		queued = q.startedAt.Sub(q.createdAt)
		execution = end.Sub(q.startedAt)
	} else {
		queued = elapsed
	}
	return queued, max(elapsed, 0), max(execution, 0)
}

// cpuTime is the CPU time reported for q: the script's once the query ended.
func (q *query) cpuTime() time.Duration {
	if q.done() && q.dispatched {
		return q.result.CPUTime
	}
	return 0
}

// peakMemory is the peak user memory reported for q.
func (q *query) peakMemory() int64 {
	if q.dispatched {
		return q.result.PeakMemory
	}
	return 0
}

// reservedMemory is the user memory q holds now.
func (q *query) reservedMemory() int64 {
	if q.phase == phaseRunning {
		return q.result.PeakMemory
	}
	return 0
}

// processedRows is the number of rows q produced once it finished.
func (q *query) processedRows() int64 {
	if q.phase == phaseFinished {
		return int64(len(q.result.Rows))
	}
	return 0
}

// blocked reports whether q is running and fully blocked.
func (q *query) blocked() bool { return q.phase == phaseRunning && q.result.Blocked }
