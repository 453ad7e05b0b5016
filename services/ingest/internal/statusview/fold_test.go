package statusview

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
)

const testID = "20260101_000000_00001_abcde"

var (
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	spec = events.QuerySpec{ID: testID, SQL: "SELECT 1", User: "alice", Protocol: events.ProtocolTrino, SubmittedAt: t0}
)

// ev is one encoded lifecycle event.
type ev struct {
	name    string
	subject string
	seq     uint64
	h       nats.Header
	data    []byte
}

func mk(t testing.TB, seq uint64, subject string, payload any) ev {
	t.Helper()
	msg, err := events.Encode(t.Context(), subject, fmt.Sprintf("%s:%d", testID, seq), "test", events.TypeForSubject[subject], testID, payload)
	if err != nil {
		t.Fatal(err)
	}
	return ev{name: subject[len(events.SubjectQueryPrefix):], subject: subject, seq: seq, h: msg.Header, data: msg.Data}
}

func submitted(t testing.TB, seq uint64) ev {
	return mk(t, seq, events.SubjectSubmitted, events.QuerySubmitted{Query: spec})
}
func cancelRequested(t testing.TB, seq uint64) ev {
	return mk(t, seq, events.SubjectCancelRequested, events.QueryCancelRequested{QueryID: testID, Reason: "user"})
}
func admitted(t testing.TB, seq uint64) ev {
	return mk(t, seq, events.SubjectAdmitted, events.QueryAdmitted{Query: spec, Group: "global", LeaseRevision: 3, AdmittedAt: t0.Add(time.Second)})
}
func placed(t testing.TB, seq uint64, cluster string, attempt int) ev {
	return mk(t, seq, events.SubjectPlaced, events.QueryPlaced{Query: spec, Cluster: cluster, Attempt: attempt, PlacedAt: t0.Add(2 * time.Second)})
}
func started(t testing.TB, seq uint64, cluster string) ev {
	return mk(t, seq, events.SubjectStarted, events.QueryStarted{QueryID: testID, Cluster: cluster, NextURI: "http://" + cluster + "/v1/statement/executing/x/0", StartedAt: t0.Add(3 * time.Second)})
}
func ended(t testing.TB, seq uint64, subject string) ev {
	p := events.QueryEnded{QueryID: testID, EndedAt: t0.Add(time.Duration(seq) * time.Second), By: "test", Cluster: "c1"}
	if subject != events.SubjectFinished {
		p.Error = &events.QueryErrorInfo{Message: subject, ErrorCode: 3, ErrorName: "E_" + subject[len(events.SubjectQueryPrefix):], ErrorType: "USER_ERROR"}
	}
	return mk(t, seq, subject, p)
}

func fold(t testing.TB, st *events.QueryStatus, evs ...ev) *events.QueryStatus {
	t.Helper()
	for _, e := range evs {
		next, err := Apply(st, e.subject, e.seq, e.h, e.data)
		if err != nil {
			t.Fatalf("apply %s: %v", e.name, err)
		}
		st = next
	}
	return st
}

func TestApplyEachSubject(t *testing.T) {
	t.Parallel()
	running := func() *events.QueryStatus {
		return fold(t, nil, submitted(t, 1), admitted(t, 2), placed(t, 3, "c1", 0), started(t, 4, "c1"))
	}
	cases := []struct {
		name  string
		from  func() *events.QueryStatus
		event ev
		check func(t *testing.T, st *events.QueryStatus)
	}{
		{"submitted", nil, submitted(t, 1), func(t *testing.T, st *events.QueryStatus) {
			want := events.QueryStatus{Query: spec, State: events.StateQueued, Seq: 1}
			if !reflect.DeepEqual(*st, want) {
				t.Errorf("got %+v, want %+v", *st, want)
			}
		}},
		{"cancel-requested keeps the state", func() *events.QueryStatus { return fold(t, nil, submitted(t, 1)) }, cancelRequested(t, 2),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StateQueued || !st.CancelRequested || st.Seq != 2 {
					t.Errorf("got %+v", *st)
				}
			}},
		{"cancel-requested first knows only the id", nil, cancelRequested(t, 1), func(t *testing.T, st *events.QueryStatus) {
			if st.Query.ID != testID || st.State != "" || !st.CancelRequested {
				t.Errorf("got %+v", *st)
			}
		}},
		{"admitted", func() *events.QueryStatus { return fold(t, nil, submitted(t, 1)) }, admitted(t, 2),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StateAdmitted || !st.AdmittedAt.Equal(t0.Add(time.Second)) || st.Query.SQL != spec.SQL {
					t.Errorf("got %+v", *st)
				}
			}},
		{"placed", func() *events.QueryStatus { return fold(t, nil, submitted(t, 1), admitted(t, 2)) }, placed(t, 3, "c1", 1),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StatePlaced || st.Cluster != "c1" || st.Attempts != 2 {
					t.Errorf("got %+v", *st)
				}
			}},
		{"started", func() *events.QueryStatus {
			return fold(t, nil, submitted(t, 1), admitted(t, 2), placed(t, 3, "c1", 0))
		}, started(t, 4, "c1"),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StateRunning || st.NextURI == "" || st.Cluster != "c1" || !st.StartedAt.Equal(t0.Add(3*time.Second)) {
					t.Errorf("got %+v", *st)
				}
			}},
		{"finished", running, ended(t, 5, events.SubjectFinished), func(t *testing.T, st *events.QueryStatus) {
			if st.State != events.StateFinished || st.Error != nil || !st.EndedAt.Equal(t0.Add(5*time.Second)) || st.Cluster != "c1" || st.NextURI == "" {
				t.Errorf("got %+v", *st)
			}
		}},
		{"failed", running, ended(t, 5, events.SubjectFailed), func(t *testing.T, st *events.QueryStatus) {
			if st.State != events.StateFailed || st.Error == nil || st.Error.ErrorName != "E_failed" {
				t.Errorf("got %+v", *st)
			}
		}},
		{"canceled", running, ended(t, 5, events.SubjectCanceled), func(t *testing.T, st *events.QueryStatus) {
			if st.State != events.StateCanceled || st.Error == nil || st.Error.ErrorName != "E_canceled" {
				t.Errorf("got %+v", *st)
			}
		}},
		{"terminal event names the cluster", func() *events.QueryStatus { return fold(t, nil, submitted(t, 1), admitted(t, 2)) }, ended(t, 3, events.SubjectFailed),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StateFailed || st.Cluster != "c1" {
					t.Errorf("got %+v", *st)
				}
			}},
		{"rejected is a failure", func() *events.QueryStatus { return fold(t, nil, submitted(t, 1)) }, ended(t, 2, events.SubjectRejected),
			func(t *testing.T, st *events.QueryStatus) {
				if st.State != events.StateFailed || st.Error == nil || st.Error.ErrorName != "E_rejected" {
					t.Errorf("got %+v", *st)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var from *events.QueryStatus
			if tc.from != nil {
				from = tc.from()
			}
			var before events.QueryStatus
			if from != nil {
				before = *from
			}
			st, err := Apply(from, tc.event.subject, tc.event.seq, tc.event.h, tc.event.data)
			if err != nil {
				t.Fatal(err)
			}
			if st.Seq != tc.event.seq {
				t.Errorf("Seq = %d, want %d", st.Seq, tc.event.seq)
			}
			tc.check(t, st)
			if from != nil && !reflect.DeepEqual(*from, before) {
				t.Errorf("Apply modified its input: %+v became %+v", before, *from)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	good := submitted(t, 1)
	prev := fold(t, nil, good)
	cases := []struct {
		name    string
		subject string
		h       nats.Header
		data    []byte
	}{
		{"unknown subject", "sluice.query.bogus", good.h, good.data},
		{"not a cloudevent", events.SubjectSubmitted, nats.Header{}, good.data},
		{"type does not match the subject", events.SubjectAdmitted, good.h, good.data},
		{"malformed payload", events.SubjectSubmitted, good.h, []byte("{not json")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Apply(prev, tc.subject, 9, tc.h, tc.data)
			if err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if st != prev {
				t.Errorf("on error Apply returned %+v, want its input unchanged", st)
			}
		})
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	evs := []ev{submitted(t, 1), cancelRequested(t, 2), admitted(t, 3), placed(t, 4, "c1", 0), started(t, 5, "c1"), ended(t, 6, events.SubjectFinished)}
	once := fold(t, nil, evs...)
	var twice *events.QueryStatus
	for _, e := range evs {
		twice = fold(t, twice, e, e)
	}
	if !reflect.DeepEqual(once, twice) {
		t.Fatalf("each event applied twice:\n got  %+v\n want %+v", *twice, *once)
	}
	replayed := fold(t, once, evs...)
	if !reflect.DeepEqual(once, replayed) {
		t.Fatalf("log replayed over the fold:\n got  %+v\n want %+v", *replayed, *once)
	}
}

func TestTerminalStateIsFinal(t *testing.T) {
	t.Parallel()
	running := []ev{submitted(t, 1), admitted(t, 2), placed(t, 3, "c1", 0), started(t, 4, "c1")}
	for _, first := range events.TerminalSubjects {
		for _, second := range events.TerminalSubjects {
			t.Run(first[len(events.SubjectQueryPrefix):]+"_then_"+second[len(events.SubjectQueryPrefix):], func(t *testing.T) {
				st := fold(t, nil, running...)
				st = fold(t, st, ended(t, 5, first))
				want := *st
				// Every later event, terminal or not, leaves the outcome alone.
				st = fold(t, st, ended(t, 6, second), placed(t, 7, "c2", 1), admitted(t, 8), submitted(t, 9))
				if st.State != want.State || !reflect.DeepEqual(st.Error, want.Error) || !st.EndedAt.Equal(want.EndedAt) || st.Cluster != want.Cluster {
					t.Fatalf("terminal status changed:\n got  %+v\n want %+v", *st, want)
				}
				if st.Seq != 9 {
					t.Errorf("Seq = %d, want 9", st.Seq)
				}
			})
		}
	}
}

// Every order of the lifecycle events (as a redelivery could produce) folds to a status
// that never moves back to an earlier state, and whose outcome is the first terminal event.
func TestOutOfOrderNeverMovesBack(t *testing.T) {
	t.Parallel()
	evs := []ev{submitted(t, 1), cancelRequested(t, 2), admitted(t, 3), placed(t, 4, "c1", 0), started(t, 5, "c1"),
		ended(t, 6, events.SubjectFinished), ended(t, 7, events.SubjectCanceled)}
	n := 0
	permute(len(evs), func(order []int) {
		n++
		var st *events.QueryStatus
		firstTerminal := events.QueryState("")
		for _, i := range order {
			prev := events.QueryState("")
			if st != nil {
				prev = st.State
			}
			st = fold(t, st, evs[i])
			if rank[st.State] < rank[prev] {
				t.Fatalf("order %v: state moved back from %s to %s", order, prev, st.State)
			}
			if firstTerminal == "" && st.State.Terminal() {
				firstTerminal = st.State
			}
			if firstTerminal != "" && st.State != firstTerminal {
				t.Fatalf("order %v: terminal %s replaced by %s", order, firstTerminal, st.State)
			}
		}
		if st.Seq != 7 || st.Query.SQL != spec.SQL || !st.CancelRequested {
			t.Fatalf("order %v: final %+v lacks the seq, spec or cancel flag", order, *st)
		}
	})
	if n != 5040 {
		t.Fatalf("checked %d orders, want 5040", n)
	}
}

// permute calls f with every permutation of 0..n-1 (Heap's algorithm).
func permute(n int, f func([]int)) {
	a := make([]int, n)
	for i := range a {
		a[i] = i
	}
	var gen func(k int)
	gen = func(k int) {
		if k == 1 {
			f(a)
			return
		}
		gen(k - 1)
		for i := 0; i < k-1; i++ {
			if k%2 == 0 {
				a[i], a[k-1] = a[k-1], a[i]
			} else {
				a[0], a[k-1] = a[k-1], a[0]
			}
			gen(k - 1)
		}
	}
	gen(n)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	st := fold(t, nil, submitted(t, 1), admitted(t, 2), placed(t, 3, "c1", 0), started(t, 4, "c1"), ended(t, 5, events.SubjectFailed))
	b, err := encode(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", *got, *st)
	}
	if _, err := decode([]byte("nope")); err == nil {
		t.Fatal("decode accepted garbage")
	}
}

// TestDispatchFailuresAndEngineID: failed dispatches are listed once each, in order, and
// the query that then starts on a Trino coordinator records the coordinator's ID.
func TestDispatchFailuresAndEngineID(t *testing.T) {
	failed := func(seq uint64, cluster string, attempt int) ev {
		return mk(t, seq, events.SubjectDispatchFailed, events.QueryDispatchFailed{QueryID: testID, Cluster: cluster, Attempt: attempt,
			Error: events.QueryErrorInfo{Message: "HTTP 503", ErrorName: "SLUICE_DISPATCH_FAILED"}})
	}
	start := mk(t, 8, events.SubjectStarted, events.QueryStarted{QueryID: testID, Cluster: "b", Attempt: 2, NextURI: "http://b/x", EngineQueryID: "20260101_000000_00000_bbbbb"})
	st := fold(t, nil, submitted(t, 1), admitted(t, 2), placed(t, 3, "a", 0), failed(4, "a", 0), failed(4, "a", 0),
		placed(t, 5, "b", 1), failed(6, "b", 1), placed(t, 7, "b", 2), start)
	want := []string{"attempt 1 on a: HTTP 503", "attempt 2 on b: HTTP 503"}
	if !reflect.DeepEqual(st.DispatchErrors, want) || st.Attempts != 3 || st.State != events.StateRunning ||
		st.EngineQueryID != "20260101_000000_00000_bbbbb" || st.Cluster != "b" {
		t.Fatalf("status = %+v", st)
	}
}

// TestApplyKeepsNoPlan: the view keeps a plan query's kind and plan object, not its plan.
func TestApplyKeepsNoPlan(t *testing.T) {
	plan := spec
	plan.Kind, plan.Plan, plan.PlanObject = events.KindPlan, []byte("plan bytes"), "obj"
	for _, e := range []ev{
		mk(t, 1, events.SubjectSubmitted, events.QuerySubmitted{Query: plan}),
		mk(t, 2, events.SubjectAdmitted, events.QueryAdmitted{Query: plan, Group: "global"}),
		mk(t, 3, events.SubjectPlaced, events.QueryPlaced{Query: plan, Cluster: "c1", Attempt: 1}),
	} {
		st, err := Apply(nil, e.subject, e.seq, e.h, e.data)
		if err != nil {
			t.Fatal(err)
		}
		if st.Query.Plan != nil || !st.Query.IsPlan() || st.Query.PlanObject != "obj" {
			t.Errorf("%s: the view holds plan %q, kind %q, object %q", e.name, st.Query.Plan, st.Query.Kind, st.Query.PlanObject)
		}
	}
}
