package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/events"
)

// State is a query state as the engines report it.
type State string

// Query states of Trino and Presto (QueryState), in lifecycle order.
const (
	StateWaitingForPrerequisites State = "WAITING_FOR_PREREQUISITES" // Presto only
	StateQueued                  State = "QUEUED"
	StateWaitingForResources     State = "WAITING_FOR_RESOURCES"
	StateDispatching             State = "DISPATCHING"
	StatePlanning                State = "PLANNING"
	StateStarting                State = "STARTING"
	StateRunning                 State = "RUNNING"
	StateFinishing               State = "FINISHING"
	StateFinished                State = "FINISHED"
	StateFailed                  State = "FAILED"
)

// Done reports whether the state ends the query.
func (s State) Done() bool { return s == StateFinished || s == StateFailed }

// waiting reports whether the query has not started running (it counts as queued).
func (s State) waiting() bool {
	return s == StateWaitingForPrerequisites || s == StateQueued || s == StateWaitingForResources
}

// Status is what GET /v1/query/{id} says about a query.
type Status struct {
	QueryID string
	State   State
	// Done is State.Done(): the query finished or failed.
	Done bool
	// User is the session user.
	User string
	// CreateTime and EndTime are zero when absent (EndTime until the query is done).
	CreateTime time.Time
	EndTime    time.Time
	Elapsed    time.Duration
	QueuedTime time.Duration
	// CPUTime is queryStats.totalCpuTime.
	CPUTime time.Duration
	// PeakMemoryBytes is queryStats.peakUserMemoryReservation.
	PeakMemoryBytes int64
	// MemoryBytes is queryStats.userMemoryReservation: what the query holds now.
	MemoryBytes int64
	// FullyBlocked is set while every driver of the running query is blocked.
	FullyBlocked bool
	// Error describes the failure of a FAILED query.
	Error *events.QueryErrorInfo
}

// queryInfoWire is the subset of QueryInfo and BasicQueryInfo the client reads.
type queryInfoWire struct {
	QueryID string `json:"queryId"`
	State   State  `json:"state"`
	Session struct {
		User string `json:"user"`
	} `json:"session"`
	QueryStats struct {
		CreateTime                string `json:"createTime"`
		EndTime                   string `json:"endTime"`
		ElapsedTime               string `json:"elapsedTime"`
		QueuedTime                string `json:"queuedTime"`
		TotalCPUTime              string `json:"totalCpuTime"`
		PeakUserMemoryReservation string `json:"peakUserMemoryReservation"`
		UserMemoryReservation     string `json:"userMemoryReservation"`
		FullyBlocked              bool   `json:"fullyBlocked"`
	} `json:"queryStats"`
	ErrorType string `json:"errorType"`
	ErrorCode *struct {
		Code int    `json:"code"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"errorCode"`
	FailureInfo *struct {
		Message       string `json:"message"`
		ErrorLocation *struct {
			LineNumber   int `json:"lineNumber"`
			ColumnNumber int `json:"columnNumber"`
		} `json:"errorLocation"`
	} `json:"failureInfo"`
}

// Status reads the state of a query from GET /v1/query/{id}. A query the coordinator does
// not know gives ErrNotFound; on Trino that includes a query nobody has polled yet.
// Durations and sizes that do not parse are left zero.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	a, err := c.control(ctx, "status", http.MethodGet, c.base+"/v1/query/"+url.PathEscape(id))
	if err != nil {
		return Status{}, err
	}
	var w queryInfoWire
	if err := json.Unmarshal(a.body, &w); err != nil || w.QueryID == "" {
		if err == nil {
			err = errors.New("answer has no queryId")
		}
		return Status{}, &Error{Op: "status", Kind: ErrUnavailable, StatusCode: a.status, Body: snippet(a.body), Err: err}
	}
	return w.status(), nil
}

// status converts the wire document.
func (w *queryInfoWire) status() Status {
	qs := w.QueryStats
	s := Status{
		QueryID:         w.QueryID,
		State:           w.State,
		Done:            w.State.Done(),
		User:            w.Session.User,
		CreateTime:      parseTime(qs.CreateTime),
		EndTime:         parseTime(qs.EndTime),
		Elapsed:         durationOrZero(qs.ElapsedTime),
		QueuedTime:      durationOrZero(qs.QueuedTime),
		CPUTime:         durationOrZero(qs.TotalCPUTime),
		PeakMemoryBytes: dataSizeOrZero(qs.PeakUserMemoryReservation),
		MemoryBytes:     dataSizeOrZero(qs.UserMemoryReservation),
		FullyBlocked:    qs.FullyBlocked,
	}
	if w.ErrorCode != nil || w.FailureInfo != nil || w.State == StateFailed {
		e := &events.QueryErrorInfo{ErrorType: w.ErrorType}
		if w.ErrorCode != nil {
			e.ErrorCode, e.ErrorName = w.ErrorCode.Code, w.ErrorCode.Name
			e.ErrorType = firstNonEmpty(w.ErrorCode.Type, w.ErrorType)
		}
		if fi := w.FailureInfo; fi != nil {
			e.Message = fi.Message
			if fi.ErrorLocation != nil {
				e.Line, e.Column = fi.ErrorLocation.LineNumber, fi.ErrorLocation.ColumnNumber
			}
		}
		s.Error = e
	}
	return s
}

// Cancel cancels a query with DELETE /v1/query/{id}. Trino answers 204 even for a query it
// does not know, including one nobody has polled yet, which then still runs when polled:
// use CancelHandle for queries just dispatched.
func (c *Client) Cancel(ctx context.Context, id string) error {
	_, err := c.control(ctx, "cancel", http.MethodDelete, c.base+"/v1/query/"+url.PathEscape(id))
	return err
}

// CancelHandle cancels a dispatched query: DELETE on its nextUri (which also stops a query
// nobody has polled yet, as soon as it is), then DELETE /v1/query/{id}. A nextUri that is
// already gone (404, 410) is not an error.
func (c *Client) CancelHandle(ctx context.Context, h Handle) error {
	if h.NextURI != "" {
		_, err := c.control(ctx, "cancel", http.MethodDelete, h.NextURI)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return c.Cancel(ctx, h.QueryID)
}

// parseTime reads an engine timestamp; zero when absent or malformed.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
