package queue

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
)

// event is one encoded lifecycle event with the stream sequence it was stored at.
type event struct {
	subject string
	seq     uint64
	msg     *nats.Msg
}

// eventLog builds encoded events with increasing stream sequences.
type eventLog struct {
	t   testing.TB
	seq uint64
	all []event
}

func newLog(t testing.TB) *eventLog { return &eventLog{t: t} }

func (l *eventLog) add(subject, id string, payload any) event {
	l.t.Helper()
	msg, err := events.Encode(l.t.Context(), subject, id+":"+subject, "test", events.TypeForSubject[subject], id, payload)
	if err != nil {
		l.t.Fatalf("encode %s %s: %v", subject, id, err)
	}
	l.seq++
	e := event{subject: subject, seq: l.seq, msg: msg}
	l.all = append(l.all, e)
	return e
}

func (l *eventLog) submitted(id string) event {
	return l.add(events.SubjectSubmitted, id, events.QuerySubmitted{Query: events.QuerySpec{ID: id, SQL: "SELECT 1", User: "u"}})
}

func (l *eventLog) cancelRequested(id, reason string) event {
	return l.add(events.SubjectCancelRequested, id, events.QueryCancelRequested{QueryID: id, Reason: reason})
}

func (l *eventLog) admitted(id string) event {
	return l.add(events.SubjectAdmitted, id, events.QueryAdmitted{Query: events.QuerySpec{ID: id}, Group: "global"})
}

func (l *eventLog) ended(subject, id string) event {
	return l.add(subject, id, events.QueryEnded{QueryID: id, By: "test"})
}

func apply(t testing.TB, s *State, evs ...event) {
	t.Helper()
	for _, e := range evs {
		if err := s.Apply(e.subject, e.seq, e.msg.Header, e.msg.Data); err != nil {
			t.Fatalf("apply %s seq %d: %v", e.subject, e.seq, err)
		}
	}
}

func headID(t testing.TB, s *State) string {
	t.Helper()
	e, ok := s.Head()
	if !ok {
		return ""
	}
	return e.Spec.ID
}

func canceledIDs(s *State) []string {
	var ids []string
	for _, e := range s.Canceled() {
		ids = append(ids, e.Spec.ID)
	}
	sort.Strings(ids)
	return ids
}

func TestHeadIsFIFO(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	ids := []string{"q3", "q1", "q2", "q0"} // arrival order, not lexical order
	for _, id := range ids {
		apply(t, s, l.submitted(id))
	}
	for i, want := range ids {
		if got := headID(t, s); got != want {
			t.Fatalf("head #%d = %q, want %q", i, got, want)
		}
		if got := headID(t, s); got != want {
			t.Fatalf("Head is not stable: second call = %q, want %q", got, want)
		}
		apply(t, s, l.admitted(want))
	}
	if e, ok := s.Head(); ok {
		t.Fatalf("empty queue has head %q", e.Spec.ID)
	}
}

func TestHeadSkipsCancelRequested(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	apply(t, s, l.submitted("a"), l.submitted("b"), l.submitted("c"), l.cancelRequested("a", ""))
	if got := headID(t, s); got != "b" {
		t.Fatalf("head = %q, want b (a is being canceled)", got)
	}
	apply(t, s, l.cancelRequested("b", ""), l.cancelRequested("c", ""))
	if e, ok := s.Head(); ok {
		t.Fatalf("head = %q, want none: every queued query is being canceled", e.Spec.ID)
	}
	// The canceled entries leave through terminal events; a new submit becomes the head.
	apply(t, s, l.ended(events.SubjectCanceled, "a"), l.submitted("d"))
	if got := headID(t, s); got != "d" {
		t.Fatalf("head = %q, want d", got)
	}
}

func TestAccounting(t *testing.T) {
	t.Parallel()
	type want struct {
		running, queued int
		isRunning       []string
		notRunning      []string
		head            string
	}
	cases := []struct {
		name  string
		build func(l *eventLog) []event
		want  want
	}{
		{
			name:  "submitted only",
			build: func(l *eventLog) []event { return []event{l.submitted("a"), l.submitted("b")} },
			want:  want{running: 0, queued: 2, notRunning: []string{"a", "b"}, head: "a"},
		},
		{
			name: "admitted holds a slot",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.submitted("b"), l.admitted("a")}
			},
			want: want{running: 1, queued: 1, isRunning: []string{"a"}, notRunning: []string{"b"}, head: "b"},
		},
		{
			name: "every terminal subject frees the slot",
			build: func(l *eventLog) []event {
				var evs []event
				for i, subj := range events.TerminalSubjects {
					id := fmt.Sprintf("t%d", i)
					evs = append(evs, l.submitted(id), l.admitted(id), l.ended(subj, id))
				}
				return evs
			},
			want: want{running: 0, queued: 0, notRunning: []string{"t0", "t1", "t2", "t3"}},
		},
		{
			name: "terminal of a queued query removes it from the queue",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.submitted("b"), l.ended(events.SubjectRejected, "a")}
			},
			want: want{running: 0, queued: 1, notRunning: []string{"a"}, head: "b"},
		},
		{
			name: "admitted after terminal never counts",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.ended(events.SubjectCanceled, "a"), l.admitted("a")}
			},
			want: want{running: 0, queued: 0, notRunning: []string{"a"}},
		},
		{
			name: "submit after terminal is ignored",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.admitted("a"), l.ended(events.SubjectFinished, "a"), l.submitted("a")}
			},
			want: want{running: 0, queued: 0, notRunning: []string{"a"}},
		},
		{
			name: "submit of a running query is ignored",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.admitted("a"), l.submitted("a")}
			},
			want: want{running: 1, queued: 0, isRunning: []string{"a"}},
		},
		{
			name: "cancel of a running query does not free its slot",
			build: func(l *eventLog) []event {
				return []event{l.submitted("a"), l.admitted("a"), l.cancelRequested("a", "")}
			},
			want: want{running: 1, queued: 0, isRunning: []string{"a"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLog(t)
			s := New()
			apply(t, s, tc.build(l)...)
			if got := s.Running(); got != tc.want.running {
				t.Errorf("Running() = %d, want %d", got, tc.want.running)
			}
			if got := s.Queued(); got != tc.want.queued {
				t.Errorf("Queued() = %d, want %d", got, tc.want.queued)
			}
			for _, id := range tc.want.isRunning {
				if !s.IsRunning(id) {
					t.Errorf("IsRunning(%q) = false, want true", id)
				}
			}
			for _, id := range tc.want.notRunning {
				if s.IsRunning(id) {
					t.Errorf("IsRunning(%q) = true, want false", id)
				}
			}
			if got := headID(t, s); got != tc.want.head {
				t.Errorf("head = %q, want %q", got, tc.want.head)
			}
		})
	}
}

func TestMarkAdmittedAndEnded(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	apply(t, s, l.submitted("a"), l.submitted("b"))

	s.MarkAdmitted("a", 10)
	if !s.IsRunning("a") || s.Running() != 1 || s.Queued() != 1 {
		t.Fatalf("after MarkAdmitted(a): running=%d queued=%d isRunning(a)=%v", s.Running(), s.Queued(), s.IsRunning("a"))
	}
	if s.LastAdmittedSeq != 10 {
		t.Fatalf("LastAdmittedSeq = %d, want 10", s.LastAdmittedSeq)
	}
	// A duplicate ack (seq 0) and an older sequence never move the fence back.
	s.MarkAdmitted("a", 0)
	s.MarkAdmitted("a", 5)
	if s.LastAdmittedSeq != 10 || s.Running() != 1 {
		t.Fatalf("after repeated MarkAdmitted: LastAdmittedSeq=%d running=%d, want 10 and 1", s.LastAdmittedSeq, s.Running())
	}
	s.MarkEnded("a")
	s.MarkEnded("a")
	if s.Running() != 0 || s.IsRunning("a") {
		t.Fatalf("after MarkEnded(a): running=%d", s.Running())
	}
	// An ended query can never take a slot again, but its admitted event still advances
	// the fence (it is in the log).
	s.MarkAdmitted("a", 12)
	if s.Running() != 0 {
		t.Fatalf("ended query re-admitted: running=%d", s.Running())
	}
	if s.LastAdmittedSeq != 12 {
		t.Fatalf("LastAdmittedSeq = %d, want 12", s.LastAdmittedSeq)
	}
	// Ending a queued query removes it from the queue.
	s.MarkEnded("b")
	if s.Queued() != 0 || s.Position("b") != 0 {
		t.Fatalf("after MarkEnded(b): queued=%d position=%d", s.Queued(), s.Position("b"))
	}
	if e, ok := s.Head(); ok {
		t.Fatalf("head = %q after everything ended", e.Spec.ID)
	}
}

func TestApplyTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	l.submitted("a")
	l.submitted("b")
	l.cancelRequested("c", "abandoned") // before its submit
	l.submitted("c")
	l.submitted("d")
	l.admitted("a")
	l.cancelRequested("b", "")
	l.admitted("d")
	l.ended(events.SubjectFinished, "a")
	l.ended(events.SubjectCanceled, "b")
	l.submitted("e")
	l.cancelRequested("zz", "") // never submitted
	l.ended(events.SubjectFailed, "d")
	l.admitted("e")

	once, twice, replayed := New(), New(), New()
	for _, e := range l.all {
		apply(t, once, e)
		apply(t, twice, e, e)
		apply(t, replayed, e)
	}
	apply(t, replayed, l.all...) // a whole replay of the log after the fold

	for name, s := range map[string]*State{"each event twice": twice, "log replayed": replayed} {
		if !reflect.DeepEqual(once, s) {
			t.Errorf("%s: state differs from applying each event once\n once: %+v\n got:  %+v", name, once, s)
		}
	}
	if once.Running() != 1 || !once.IsRunning("e") {
		t.Errorf("running = %d, IsRunning(e) = %v; want only e running", once.Running(), once.IsRunning("e"))
	}
	if got := canceledIDs(once); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Canceled() = %v, want [c]", got)
	}
	if once.LastAdmittedSeq != l.all[len(l.all)-1].seq {
		t.Errorf("LastAdmittedSeq = %d, want %d", once.LastAdmittedSeq, l.all[len(l.all)-1].seq)
	}
}

func TestCancelBeforeSubmitIsHonored(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"", "abandoned"} {
		t.Run("reason="+reason, func(t *testing.T) {
			t.Parallel()
			l := newLog(t)
			s := New()
			apply(t, s, l.cancelRequested("a", reason))
			if s.Queued() != 0 {
				t.Fatalf("a cancel request alone queued a query: queued=%d", s.Queued())
			}
			apply(t, s, l.submitted("a"), l.submitted("b"))
			got := s.Canceled()
			if len(got) != 1 || got[0].Spec.ID != "a" || !got[0].CancelRequested || got[0].CancelReason != reason {
				t.Fatalf("Canceled() = %+v, want [a] with reason %q", got, reason)
			}
			if h := headID(t, s); h != "b" {
				t.Fatalf("head = %q, want b", h)
			}
		})
	}
}

func TestCanceledListsOnlyQueued(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	apply(t, s,
		l.submitted("a"), l.submitted("b"), l.submitted("c"), l.submitted("d"),
		l.admitted("c"),
		l.cancelRequested("a", "abandoned"),
		l.cancelRequested("c", ""), // running: the executor cancels it, not admission
		l.cancelRequested("d", ""),
		l.cancelRequested("x", ""), // unknown yet
	)
	if got := canceledIDs(s); !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("Canceled() = %v, want [a d]", got)
	}
	for _, e := range s.Canceled() {
		if e.Spec.ID == "a" && e.CancelReason != "abandoned" {
			t.Errorf("reason of a = %q, want abandoned", e.CancelReason)
		}
	}
	apply(t, s, l.ended(events.SubjectCanceled, "a"))
	if got := canceledIDs(s); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("after a ended: Canceled() = %v, want [d]", got)
	}
}

func TestPosition(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	apply(t, s, l.submitted("a"), l.submitted("b"), l.submitted("c"), l.submitted("d"))
	check := func(want map[string]int) {
		t.Helper()
		for id, p := range want {
			if got := s.Position(id); got != p {
				t.Errorf("Position(%q) = %d, want %d", id, got, p)
			}
		}
	}
	check(map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "unknown": 0})
	apply(t, s, l.admitted("a"))
	check(map[string]int{"a": 0, "b": 1, "c": 2, "d": 3})
	apply(t, s, l.ended(events.SubjectRejected, "c"))
	check(map[string]int{"b": 1, "c": 0, "d": 2})
	_, _ = s.Head() // consuming the head index must not change positions
	check(map[string]int{"b": 1, "d": 2})
}

func TestApplyRejectsBadInput(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	good := l.submitted("a")
	cases := []struct {
		name    string
		subject string
		h       nats.Header
		data    []byte
	}{
		{"unknown subject", events.SubjectPlaced, good.msg.Header, good.msg.Data},
		{"no cloudevent headers", events.SubjectSubmitted, nats.Header{}, good.msg.Data},
		{"wrong ce-type for subject", events.SubjectAdmitted, good.msg.Header, good.msg.Data},
		{"malformed json", events.SubjectSubmitted, good.msg.Header, []byte("{")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			if err := s.Apply(tc.subject, 1, tc.h, tc.data); err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if s.Queued() != 0 || s.Running() != 0 {
				t.Fatalf("bad input changed the state: queued=%d running=%d", s.Queued(), s.Running())
			}
		})
	}
}

func TestCompactKeepsOrder(t *testing.T) {
	t.Parallel()
	l := newLog(t)
	s := New()
	const n = 3000
	for i := range n {
		apply(t, s, l.submitted(fmt.Sprintf("q%05d", i)))
	}
	for i := range n {
		want := fmt.Sprintf("q%05d", i)
		if got := headID(t, s); got != want {
			t.Fatalf("head = %q, want %q", got, want)
		}
		if got := s.Position(fmt.Sprintf("q%05d", n-1)); got != n-i {
			t.Fatalf("Position(last) = %d, want %d", got, n-i)
		}
		s.MarkAdmitted(want, uint64(i+1))
		s.MarkEnded(want)
	}
	if len(s.order) >= n/2 {
		t.Fatalf("consumed prefix not dropped: len(order)=%d head=%d", len(s.order), s.head)
	}
}

// TestPropertyRandomLifecycles drives the state with random submit, cancel, admit and end
// events under a simple admission policy with limit L (admit Head while Running < L) and
// checks the fleet-wide limit and the partition of queries after every step.
func TestPropertyRandomLifecycles(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	for run := range 40 {
		seed := seed + int64(run)
		rng := rand.New(rand.NewSource(seed))
		limit := rng.Intn(4) // 0..3; 0 means nothing may ever run
		t.Run(fmt.Sprintf("seed=%d/limit=%d", seed, limit), func(t *testing.T) {
			propertyRun(t, rng, limit, 400)
		})
	}
}

func propertyRun(t *testing.T, rng *rand.Rand, limit, steps int) {
	l := newLog(t)
	s := New()
	var (
		submitted []string // in submission order
		isSub     = map[string]bool{}
		ended     = map[string]bool{}
		canceled  = map[string]bool{} // cancel requested (the model)
		history   []event
		next      int
	)
	do := func(e event) {
		t.Helper()
		apply(t, s, e)
		history = append(history, e)
	}
	running := func() []string {
		var out []string
		for _, id := range submitted {
			if s.IsRunning(id) {
				out = append(out, id)
			}
		}
		return out
	}
	for step := range steps {
		switch r := rng.Intn(100); {
		case r < 30: // a new query arrives
			id := fmt.Sprintf("q%04d", next)
			next++
			do(l.submitted(id))
			if !isSub[id] {
				isSub[id] = true
				submitted = append(submitted, id)
			}
		case r < 40: // a cancel request for a known or a future query
			id := fmt.Sprintf("q%04d", rng.Intn(next+3))
			do(l.cancelRequested(id, ""))
			canceled[id] = true
		case r < 65: // the admission policy: end canceled queued queries, admit heads
			for _, e := range s.Canceled() {
				if !canceled[e.Spec.ID] {
					t.Fatalf("step %d: Canceled() lists %s without a cancel request", step, e.Spec.ID)
				}
				do(l.ended(events.SubjectCanceled, e.Spec.ID))
				ended[e.Spec.ID] = true
			}
			for s.Running() < limit {
				e, ok := s.Head()
				if !ok {
					break
				}
				if e.CancelRequested {
					t.Fatalf("step %d: Head returned %s whose cancel was requested", step, e.Spec.ID)
				}
				// FIFO: no older queued query that is not being canceled is skipped.
				for _, id := range submitted {
					if id == e.Spec.ID {
						break
					}
					if s.Position(id) > 0 && !canceled[id] {
						t.Fatalf("step %d: Head = %s but older %s is still queued", step, e.Spec.ID, id)
					}
				}
				do(l.admitted(e.Spec.ID))
			}
		case r < 85: // a running query ends
			if rs := running(); len(rs) > 0 {
				id := rs[rng.Intn(len(rs))]
				subj := []string{events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled}[rng.Intn(3)]
				do(l.ended(subj, id))
				ended[id] = true
			}
		case r < 90: // a queued query is rejected
			if len(submitted) > 0 {
				id := submitted[rng.Intn(len(submitted))]
				if s.Position(id) > 0 {
					do(l.ended(events.SubjectRejected, id))
					ended[id] = true
				}
			}
		default: // redelivery of an old event
			if len(history) > 0 {
				e := history[rng.Intn(len(history))]
				apply(t, s, e)
			}
		}

		if got := s.Running(); got > limit {
			t.Fatalf("step %d: Running() = %d > limit %d", step, got, limit)
		}
		queued, run := 0, 0
		for _, id := range submitted {
			inQueue := s.Position(id) > 0
			isRunning := s.IsRunning(id)
			n := 0
			for _, b := range []bool{inQueue, isRunning, ended[id]} {
				if b {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("step %d: %s is queued=%v running=%v ended=%v; want exactly one", step, id, inQueue, isRunning, ended[id])
			}
			if inQueue {
				queued++
			}
			if isRunning {
				run++
			}
		}
		if s.Queued() != queued || s.Running() != run {
			t.Fatalf("step %d: Queued()=%d Running()=%d, but the submitted queries show %d queued and %d running",
				step, s.Queued(), s.Running(), queued, run)
		}
	}
	// The fold of the whole history, replayed into a fresh state, gives the same answers.
	fresh := New()
	apply(t, fresh, history...)
	for _, id := range submitted {
		if fresh.IsRunning(id) != s.IsRunning(id) || fresh.Position(id) != s.Position(id) {
			t.Fatalf("replay differs for %s: running %v/%v position %d/%d", id,
				fresh.IsRunning(id), s.IsRunning(id), fresh.Position(id), s.Position(id))
		}
	}
}
