// Package state is admission's fold of the QUERIES log: submissions waiting for a verdict,
// and the resource-group tree with every queued and running query. Every replica folds the
// same events into the same state; the leader also applies its own decisions at once (the
// fold of the event it published is then a no-op).
package state

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// Entry is a query admission still has to act on: waiting for its verdict (pending) or
// queued in a group. Its submitted payload is decoded only when the leader needs it.
type Entry struct {
	ID              string
	Seq             uint64
	Trace           nats.Header
	CancelRequested bool
	CancelReason    string

	pending bool
	header  nats.Header
	data    []byte
	spec    *events.QuerySpec
	load    Loader // set for entries restored from a snapshot, which keeps no payloads
}

// Loader reads the event stored at a stream sequence (the submission of a restored entry).
type Loader func(seq uint64) (nats.Header, []byte, error)

// Spec decodes (once) the submitted query. An entry restored from a snapshot first reads
// its submission from the log.
func (e *Entry) Spec() (*events.QuerySpec, error) {
	if e.spec != nil {
		return e.spec, nil
	}
	if e.data == nil && e.load != nil {
		h, data, err := e.load(e.Seq)
		if err != nil {
			return nil, fmt.Errorf("read submission at sequence %d: %w", e.Seq, err)
		}
		e.header, e.data = h, data
	}
	var p events.QuerySubmitted
	if _, err := events.Decode(e.header, e.data, events.TypeQuerySubmitted, &p); err != nil {
		return nil, err
	}
	e.spec = &p.Query
	e.header, e.data = nil, nil
	return e.spec, nil
}

// State is the fold.
type State struct {
	// Tree holds the queued and running queries by resource group.
	Tree *groups.Tree
	// LastTermSeq is the stream sequence of the newest admission term marker folded: the
	// fence of every decision of the leader that wrote it.
	LastTermSeq uint64
	// LastSeq is the sequence of the last event folded.
	LastSeq uint64

	entries  map[string]*Entry
	pending  []*Entry // arrival order; entries that got a verdict are skipped lazily
	head     int
	cancels  map[string]*Entry
	ended    recentSet
	preCance map[string]string // cancel requests folded before their submission
}

// EndedKeep bounds how many ended query IDs the fold remembers, to ignore late or repeated
// events about them. Later events of a query are written by the same publishers within the
// stream's duplicate window, which also drops repeats, so the most recent ones suffice.
const EndedKeep = 65536

// New returns an empty state for a configuration.
func New(cfg *rgspec.Config, opts groups.Options) *State {
	return &State{Tree: groups.New(cfg, opts), entries: map[string]*Entry{}, cancels: map[string]*Entry{},
		ended: newRecentSet(EndedKeep), preCance: map[string]string{}}
}

// slim payloads: only what the fold needs (the admitted event also carries the whole spec).
type admittedFold struct {
	Query struct {
		ID string `json:"id"`
	} `json:"query"`
	Group         string   `json:"group"`
	GroupID       []string `json:"groupId"`
	GroupTemplate []string `json:"groupTemplate"`
	Priority      int64    `json:"priority"`
	MemoryBytes   int64    `json:"memoryBytes"`
}

func decodeFast(h nats.Header, data []byte, wantType string, v any) error {
	if got := h.Get("ce-type"); got != wantType {
		return fmt.Errorf("state: event type %q, want %q", got, wantType)
	}
	return json.Unmarshal(data, v)
}

// Apply folds one event. Folding the same event twice has no further effect.
func (s *State) Apply(subject string, seq uint64, h nats.Header, data []byte) error {
	if seq > s.LastSeq {
		s.LastSeq = seq
	}
	switch subject {
	case events.SubjectSubmitted:
		id := strings.TrimSuffix(h.Get(nats.MsgIdHdr), ":submitted")
		if id == "" {
			var p events.QuerySubmitted
			if err := decodeFast(h, data, events.TypeQuerySubmitted, &p); err != nil {
				return err
			}
			id = p.Query.ID
		}
		if s.known(id) {
			return nil
		}
		e := &Entry{ID: id, Seq: seq, Trace: traceHeaders(h), pending: true, header: h, data: data}
		if reason, ok := s.preCance[id]; ok {
			delete(s.preCance, id)
			e.CancelRequested, e.CancelReason = true, reason
			s.cancels[id] = e
		}
		s.entries[id] = e
		s.pending = append(s.pending, e)
	case events.SubjectCancelRequested:
		var p events.QueryCancelRequested
		if err := decodeFast(h, data, events.TypeQueryCancelRequested, &p); err != nil {
			return err
		}
		if e, ok := s.entries[p.QueryID]; ok {
			e.CancelRequested, e.CancelReason = true, p.Reason
			s.cancels[p.QueryID] = e
		} else if !s.known(p.QueryID) {
			if len(s.preCance) >= EndedKeep {
				for id := range s.preCance { // bounded: forget any one
					delete(s.preCance, id)
					break
				}
			}
			s.preCance[p.QueryID] = p.Reason
		}
	case events.SubjectQueued:
		var p events.QueryQueued
		if err := decodeFast(h, data, events.TypeQueryQueued, &p); err != nil {
			return err
		}
		if s.ended.has(p.QueryID) {
			return nil
		}
		if _, ok := s.Tree.Lookup(p.QueryID); ok {
			return nil // already queued or started (the leader applied its own decision)
		}
		e, ok := s.entries[p.QueryID]
		if !ok {
			e = &Entry{ID: p.QueryID, Seq: seq}
			s.entries[p.QueryID] = e
		}
		e.pending = false
		leaf := s.Tree.Leaf(s.resolve(p.Group, p.GroupID, p.GroupTemplate))
		s.Tree.Enqueue(&groups.Query{ID: p.QueryID, Priority: p.Priority, Memory: p.MemoryBytes, QueuedAt: p.QueuedAt}, leaf)
	case events.SubjectAdmitted:
		var p admittedFold
		if err := decodeFast(h, data, events.TypeQueryAdmitted, &p); err != nil {
			return err
		}
		id := p.Query.ID
		if s.ended.has(id) {
			return nil
		}
		s.forget(id)
		leaf := s.Tree.Leaf(s.resolve(p.Group, p.GroupID, p.GroupTemplate))
		s.Tree.Start(&groups.Query{ID: id, Priority: p.Priority, Memory: p.MemoryBytes}, leaf)
	case events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected:
		var p events.QueryEnded
		if err := decodeFast(h, data, events.TypeForSubject[subject], &p); err != nil {
			return err
		}
		cpu := chargedCPU(subject, &p)
		if cpu > 0 && !p.EndedAt.IsZero() {
			s.Tree.Regenerate(p.EndedAt)
		}
		s.MarkEnded(p.QueryID, cpu)
	case events.SubjectProgress:
		var p events.QueryProgress
		if err := decodeFast(h, data, events.TypeQueryProgress, &p); err != nil {
			return err
		}
		s.Tree.SetMemory(p.QueryID, p.MemoryBytes)
	case events.SubjectAdmissionTerm:
		if seq > s.LastTermSeq {
			s.LastTermSeq = seq
		}
	default:
		return fmt.Errorf("state: unexpected subject %q", subject)
	}
	return nil
}

// chargedCPU is the CPU time charged to resource-group quotas: successes and user errors
// only, as Trino does.
func chargedCPU(subject string, p *events.QueryEnded) time.Duration {
	if subject == events.SubjectFinished || (subject == events.SubjectFailed && p.Error != nil && p.Error.ErrorType == string(protocol.UserError)) {
		return time.Duration(p.CPUTimeMillis) * time.Millisecond
	}
	return 0
}

// resolve turns a group recorded in an event back into a selection of the configuration.
// Events written before resource groups existed carry only the dotted name ("global").
func (s *State) resolve(group string, id, tmpl []string) rgspec.Selection {
	if len(id) == 0 {
		id = groups.SplitID(group)
	}
	if len(tmpl) != len(id) {
		tmpl = id
	}
	specs := s.Tree.Resolve(id, tmpl)
	out := rgspec.Selection{ID: id, Specs: make([]*rgspec.GroupSpec, len(id))}
	for i := range id {
		if specs[i] != nil {
			out.Specs[i] = specs[i]
		} else {
			out.Specs[i] = &rgspec.GroupSpec{Name: tmpl[min(i, len(tmpl)-1)]}
		}
	}
	return out
}

func (s *State) known(id string) bool {
	if _, ok := s.entries[id]; ok {
		return true
	}
	if _, ok := s.Tree.Lookup(id); ok {
		return true
	}
	return s.ended.has(id)
}

// forget drops the entry of a query that started or ended.
func (s *State) forget(id string) {
	if e, ok := s.entries[id]; ok {
		e.pending = false
		delete(s.entries, id)
	}
	delete(s.cancels, id)
	delete(s.preCance, id)
}

// Entry returns the entry of a pending or queued query.
func (s *State) Entry(id string) (*Entry, bool) { e, ok := s.entries[id]; return e, ok }

// NextPending returns the oldest submission without a verdict whose cancel was not
// requested.
func (s *State) NextPending() (*Entry, bool) {
	for s.head < len(s.pending) {
		e := s.pending[s.head]
		if !e.pending || e.CancelRequested {
			s.head++
			continue
		}
		return e, true
	}
	s.compact()
	return nil, false
}

func (s *State) compact() {
	if s.head > 1024 && s.head > len(s.pending)/2 {
		s.pending = append([]*Entry(nil), s.pending[s.head:]...)
		s.head = 0
	}
}

// Canceled returns the pending and queued entries whose cancel was requested.
func (s *State) Canceled() []*Entry {
	out := make([]*Entry, 0, len(s.cancels))
	for _, e := range s.cancels {
		out = append(out, e)
	}
	return out
}

// MarkQueued applies the leader's own queued verdict.
func (s *State) MarkQueued(e *Entry, q *groups.Query, leaf *groups.Group) {
	e.pending = false
	s.Tree.Enqueue(q, leaf)
}

// MarkStarted applies the leader's own admission of q.
func (s *State) MarkStarted(q *groups.Query, leaf *groups.Group) {
	s.forget(q.ID)
	s.Tree.Start(q, leaf)
}

// MarkEnded records a terminal event: the query leaves its queue or frees its slot, and
// its CPU is charged.
func (s *State) MarkEnded(id string, cpu time.Duration) {
	s.forget(id)
	_ = s.Tree.Finish(id, cpu)
	s.ended.add(id)
}

// Reconfigure applies a new configuration to the tree.
func (s *State) Reconfigure(cfg *rgspec.Config) { s.Tree.Reconfigure(cfg) }

// Accounting returns the query_priority session property (default 1; it must be a whole
// number >= 1) and the declared PEAK_MEMORY of a query.
func Accounting(spec *events.QuerySpec) (priority, memory int64, err error) {
	priority = 1
	if v, ok := spec.Session["query_priority"]; ok {
		p, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if perr != nil || p < 1 {
			return 0, 0, fmt.Errorf("query_priority must be an integer >= 1, got %q", v)
		}
		priority = p
	}
	for k, v := range spec.ResourceEstimate {
		if strings.EqualFold(k, "PEAK_MEMORY") {
			m, merr := protocol.ParseDataSize(v)
			if merr != nil {
				return 0, 0, fmt.Errorf("resource estimate PEAK_MEMORY: %v", merr)
			}
			memory = m
		}
	}
	return priority, memory, nil
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
