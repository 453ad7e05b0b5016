package coordinator

import (
	"errors"
	"strconv"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Sentinels; every *Error wraps exactly one of the first five.
var (
	// ErrUnavailable: the coordinator is unreachable or unhealthy (connection error, 5xx,
	// 429, redirect, malformed answer). A dispatch that fails with it did not start the
	// query and may be retried on another cluster.
	ErrUnavailable = errors.New("coordinator unavailable")
	// ErrQueryFailed: the coordinator refused (4xx) or failed (QueryResults.error) the query.
	ErrQueryFailed = errors.New("query failed on the coordinator")
	// ErrAlreadyExists: a Presto PUT found a query with the same ID (409).
	ErrAlreadyExists = errors.New("query already exists on the coordinator")
	// ErrNotFound: the coordinator does not know the query (404 or 410).
	ErrNotFound = errors.New("query not found on the coordinator")
	// ErrRejected: the coordinator refused a control request (4xx).
	ErrRejected = errors.New("coordinator rejected the request")

	// ErrInvalidOption: an option passed to New is invalid.
	ErrInvalidOption = errors.New("invalid coordinator client option")
	// ErrInvalidSpec: the query spec cannot be sent (no SQL, no user, a header value with
	// control characters, or a Presto query ID outside [_a-z0-9]+).
	ErrInvalidSpec = errors.New("invalid query spec")
)

// maxErrorBody is how much of a non-JSON error answer an Error keeps.
const maxErrorBody = 512

// Error is a failed coordinator call.
type Error struct {
	// Op is the call: "dispatch", "submit", "status", "cancel", "load" or "info".
	Op string
	// Kind is the sentinel: ErrUnavailable, ErrQueryFailed, ErrAlreadyExists, ErrNotFound
	// or ErrRejected.
	Kind error
	// StatusCode is the HTTP status, 0 when no answer arrived.
	StatusCode int
	// Body is the start of the answer's body when it was not a QueryResults document.
	Body string
	// Query is the engine's error when the coordinator failed the query.
	Query *protocol.QueryError
	// Err is the transport or decoding error, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := "coordinator " + e.Op + ": " + e.Kind.Error()
	if e.StatusCode != 0 {
		s += " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
	}
	switch {
	case e.Query != nil:
		s += ": " + e.Query.Error()
	case e.Err != nil:
		s += ": " + e.Err.Error()
	case e.Body != "":
		s += ": " + e.Body
	}
	return s
}

// Unwrap returns the sentinel, the engine's QueryError and the cause, for errors.Is and
// errors.As.
func (e *Error) Unwrap() []error {
	out := []error{e.Kind}
	if e.Query != nil {
		out = append(out, e.Query)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// statusKind classifies an HTTP status of a control request (status, cancel, load, info).
func statusKind(status int) error {
	switch {
	case status == 404 || status == 410:
		return ErrNotFound
	case status >= 400 && status < 500 && status != 429:
		return ErrRejected
	}
	return ErrUnavailable
}

// dispatchKind classifies an HTTP status of a dispatch: 4xx fails the query, except 409
// (already exists) and 429 (not processed); anything else means the query did not start.
func dispatchKind(status int) error {
	switch {
	case status == 409:
		return ErrAlreadyExists
	case status >= 400 && status < 500 && status != 429:
		return ErrQueryFailed
	}
	return ErrUnavailable
}
