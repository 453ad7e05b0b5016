// Package queue is admission's state: the global queue in arrival order and the set of
// admitted (running) queries, folded from the QUERIES log. It is a pure data structure; the
// admission service decides with it and publishes the decisions.
package queue

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
)

// Entry is one queued query.
type Entry struct {
	Spec            events.QuerySpec
	Seq             uint64
	Trace           nats.Header
	CancelRequested bool
	CancelReason    string
}

// State is the fold of submitted, cancel-requested, admitted and terminal events.
type State struct {
	order   []string // queued IDs in submission order; removed entries are skipped lazily
	head    int
	queued  map[string]*Entry
	running map[string]struct{}
	ended   map[string]struct{}
	// pendingCancel records cancel requests that arrived before the submit was folded.
	pendingCancel map[string]string
	// LastAdmittedSeq is the stream sequence of the newest admitted event folded: the
	// expected-last-subject-sequence that fences the next admission.
	LastAdmittedSeq uint64
}

// New returns an empty state.
func New() *State {
	return &State{queued: map[string]*Entry{}, running: map[string]struct{}{}, ended: map[string]struct{}{}, pendingCancel: map[string]string{}}
}

// Apply folds one event. Folding the same event twice has no further effect.
func (s *State) Apply(subject string, seq uint64, h nats.Header, data []byte) error {
	ceType := events.TypeForSubject[subject]
	switch subject {
	case events.SubjectSubmitted:
		var p events.QuerySubmitted
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return err
		}
		id := p.Query.ID
		if _, ok := s.ended[id]; ok {
			return nil
		}
		if _, ok := s.running[id]; ok {
			return nil
		}
		if _, ok := s.queued[id]; ok {
			return nil
		}
		e := &Entry{Spec: p.Query, Seq: seq, Trace: traceHeaders(h)}
		if reason, ok := s.pendingCancel[id]; ok {
			e.CancelRequested, e.CancelReason = true, reason
			delete(s.pendingCancel, id)
		}
		s.queued[id] = e
		s.order = append(s.order, id)
	case events.SubjectCancelRequested:
		var p events.QueryCancelRequested
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return err
		}
		if e, ok := s.queued[p.QueryID]; ok {
			e.CancelRequested, e.CancelReason = true, p.Reason
		} else if _, ok := s.ended[p.QueryID]; !ok {
			if _, ok := s.running[p.QueryID]; !ok {
				s.pendingCancel[p.QueryID] = p.Reason
			}
		}
	case events.SubjectAdmitted:
		var p events.QueryAdmitted
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return err
		}
		s.MarkAdmitted(p.Query.ID, seq)
	case events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected:
		var p events.QueryEnded
		if _, err := events.Decode(h, data, ceType, &p); err != nil {
			return err
		}
		s.MarkEnded(p.QueryID)
	default:
		return fmt.Errorf("queue: unexpected subject %q", subject)
	}
	return nil
}

// MarkAdmitted moves id from the queue to the running set; seq is the admitted event's
// stream sequence.
func (s *State) MarkAdmitted(id string, seq uint64) {
	if seq > s.LastAdmittedSeq {
		s.LastAdmittedSeq = seq
	}
	if _, ok := s.ended[id]; ok {
		return
	}
	delete(s.queued, id)
	delete(s.pendingCancel, id)
	s.running[id] = struct{}{}
}

// MarkEnded records a terminal event: the query leaves the queue or frees its slot.
func (s *State) MarkEnded(id string) {
	delete(s.queued, id)
	delete(s.running, id)
	delete(s.pendingCancel, id)
	s.ended[id] = struct{}{}
}

// Running is the number of admitted queries that have not ended.
func (s *State) Running() int { return len(s.running) }

// IsRunning reports whether id holds a slot.
func (s *State) IsRunning(id string) bool { _, ok := s.running[id]; return ok }

// Queued is the number of queries waiting.
func (s *State) Queued() int { return len(s.queued) }

// Position returns the 1-based queue position of id, or 0 when it is not queued.
func (s *State) Position(id string) int {
	n := 0
	for _, qid := range s.order[s.head:] {
		if _, ok := s.queued[qid]; ok {
			n++
			if qid == id {
				return n
			}
		}
	}
	return 0
}

// Canceled returns the queued entries whose cancel was requested.
func (s *State) Canceled() []*Entry {
	var out []*Entry
	for _, e := range s.queued {
		if e.CancelRequested {
			out = append(out, e)
		}
	}
	return out
}

// Head returns the oldest queued entry that is not being canceled.
func (s *State) Head() (*Entry, bool) {
	for s.head < len(s.order) {
		id := s.order[s.head]
		e, ok := s.queued[id]
		if !ok {
			s.head++
			continue
		}
		if e.CancelRequested {
			// it leaves through Canceled(); look further
			for _, qid := range s.order[s.head+1:] {
				if e2, ok := s.queued[qid]; ok && !e2.CancelRequested {
					return e2, true
				}
			}
			return nil, false
		}
		s.compact()
		return e, true
	}
	s.compact()
	return nil, false
}

// compact drops the consumed prefix of order once it is large.
func (s *State) compact() {
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append([]string(nil), s.order[s.head:]...)
		s.head = 0
	}
}

func traceHeaders(h nats.Header) nats.Header {
	out := nats.Header{}
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if v := h.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}
