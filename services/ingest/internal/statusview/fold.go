// Package statusview maintains the query status view: a KV bucket with each query's latest
// state, folded from the QUERIES lifecycle log by a durable consumer (the projector), and an
// in-memory cache of that bucket that wakes long-polling clients when a query changes.
package statusview

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
)

// rank orders states so that folding is idempotent and tolerant of reordering: a status
// never moves back to an earlier state, and the first terminal state is final.
var rank = map[events.QueryState]int{
	events.StateQueued: 1, events.StateAdmitted: 2, events.StatePlaced: 3, events.StateRunning: 4,
	events.StateFinished: 9, events.StateFailed: 9, events.StateCanceled: 9,
}

// Apply folds one lifecycle event into st (nil for a query not seen yet) and returns the new
// status. Applying the same event twice gives the same result.
func Apply(st *events.QueryStatus, subject string, seq uint64, h nats.Header, data []byte) (*events.QueryStatus, error) {
	ceType, ok := events.TypeForSubject[subject]
	if !ok {
		return st, fmt.Errorf("statusview: unknown subject %q", subject)
	}
	next := events.QueryStatus{}
	if st != nil {
		next = *st
	}
	advance := func(s events.QueryState) {
		if next.State.Terminal() {
			return
		}
		if rank[s] > rank[next.State] {
			next.State = s
		}
	}
	switch subject {
	case events.SubjectSubmitted:
		var p events.QuerySubmitted
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query = Slim(p.Query)
		advance(events.StateQueued)
	case events.SubjectCancelRequested:
		var p events.QueryCancelRequested
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		next.CancelRequested = true
	case events.SubjectAdmitted:
		var p events.QueryAdmitted
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query = Slim(p.Query)
		next.AdmittedAt = p.AdmittedAt
		next.Group = p.Group
		advance(events.StateAdmitted)
	case events.SubjectQueued:
		var p events.QueryQueued
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		next.Group = p.Group
		next.QueuedReason = p.Reason
		advance(events.StateQueued)
	case events.SubjectPlaced:
		var p events.QueryPlaced
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query = Slim(p.Query)
		if !next.State.Terminal() {
			next.Cluster = p.Cluster
		}
		if p.Attempt+1 > next.Attempts {
			next.Attempts = p.Attempt + 1
		}
		advance(events.StatePlaced)
	case events.SubjectStarted:
		var p events.QueryStarted
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		next.Cluster = p.Cluster
		next.NextURI = p.NextURI
		next.StartedAt = p.StartedAt
		next.EngineQueryID = p.EngineQueryID
		advance(events.StateRunning)
	case events.SubjectProgress:
		var p events.QueryProgress
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		if !next.State.Terminal() {
			next.MemoryBytes, next.CPUTimeMillis = p.MemoryBytes, p.CPUTimeMillis
		}
	case events.SubjectDispatchFailed:
		var p events.QueryDispatchFailed
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		line := fmt.Sprintf("attempt %d on %s: %s", p.Attempt+1, p.Cluster, p.Error.Message)
		if !slices.Contains(next.DispatchErrors, line) {
			next.DispatchErrors = append(slices.Clip(next.DispatchErrors), line)
		}
	case events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected:
		var p events.QueryEnded
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return st, err
		}
		next.Query.ID = p.QueryID
		if next.State.Terminal() {
			break
		}
		switch subject {
		case events.SubjectFinished:
			next.State = events.StateFinished
		case events.SubjectCanceled:
			next.State = events.StateCanceled
		default:
			next.State = events.StateFailed
		}
		next.Error = p.Error
		next.EndedAt = p.EndedAt
		if p.Cluster != "" {
			next.Cluster = p.Cluster
		}
	}
	if seq > next.Seq {
		next.Seq = seq
	}
	return &next, nil
}

func encode(st *events.QueryStatus) ([]byte, error) { return json.Marshal(st) }

func decode(b []byte) (*events.QueryStatus, error) {
	var st events.QueryStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Slim returns the spec as the status view keeps it: without a plan query's plan, which
// travels in the events and the plan store and would only swell the view.
func Slim(q events.QuerySpec) events.QuerySpec {
	q.Plan = nil
	return q
}
