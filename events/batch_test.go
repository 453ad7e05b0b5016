package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// sampleBatch has two fragments of one query (they share its spec on the wire) and one of
// another, with every field set on one of them.
func sampleBatch() events.FragmentBatch {
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	q1 := events.QuerySpec{ID: "20261121_000000_00001_abcde", Kind: events.KindPlan, User: "alice", Catalog: "tpch", Schema: "sf1",
		Priority: 3, CostEstimate: 1.5, Session: map[string]string{"a": "b"}, SubmittedAt: at}
	q2 := events.QuerySpec{ID: "20261121_000000_00002_abcde", Kind: events.KindPlan, User: "bob"}
	return events.FragmentBatch{Fragments: []events.Fragment{
		{Query: q1, FragmentID: "q1_f1_p0", Cluster: "local-1", Attempt: 2, Plan: []byte{0, 1, 2, 0xff}, Dispatch: 3, Home: "local-2", Region: "eu",
			ReleasedAt: at, Trace: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			Inputs: []events.FragmentOutput{{Fragment: "q1_f2", Cluster: "local-2", Path: "/tmp/x.parquet", Object: "q1/q1_f2.parquet", Rows: 7, Bytes: 99}}},
		{Query: q1, FragmentID: "q1_f0", Cluster: "local-1", Root: true, PlanObject: events.FragmentPlanObject(q1.ID, "q1_f0")},
		{Query: q2, FragmentID: "q2_f0", Cluster: "local-1", SQL: "select 1"},
	}}
}

func sampleOutcomes() events.FragmentOutcomes {
	at := time.Date(2026, 11, 21, 10, 0, 0, 5, time.UTC)
	return events.FragmentOutcomes{
		Done: []events.FragmentDone{{FragmentRun: events.FragmentRun{QueryID: "q1", FragmentID: "q1_f1", Cluster: "local-1", Attempt: 1, Dispatch: 2},
			Output:     events.FragmentOutput{Fragment: "q1_f1", Cluster: "local-1", Path: "/p", Object: "o", Rows: 3, Bytes: 4},
			ReleasedAt: at, StartedAt: at.Add(time.Millisecond), EndedAt: at.Add(time.Second)}},
		Failed: []events.FragmentFailed{{FragmentRun: events.FragmentRun{QueryID: "q2", FragmentID: "q2_f3", Cluster: "local-2", Dispatch: 1},
			Error:     &events.QueryErrorInfo{Message: "inputs lost", ErrorCode: 65536, ErrorName: "GENERIC_INTERNAL_ERROR", ErrorType: "INTERNAL_ERROR"},
			Retriable: true, MissingInputs: []string{"q2_f4"}, EndedAt: at}},
	}
}

// TestBatchesRoundTrip: fragment batches and outcome reports travel as protobuf and come
// back equal, field for field; their JSON form (for tools) decodes too.
func TestBatchesRoundTrip(t *testing.T) {
	batch, outcomes := sampleBatch(), sampleOutcomes()
	for _, tc := range []struct {
		name    string
		ceType  string
		payload any
		decoded func() any
	}{
		{"batch", events.TypeFragmentBatch, batch, func() any { return &events.FragmentBatch{} }},
		{"outcomes", events.TypeFragmentOutcomes, outcomes, func() any { return &events.FragmentOutcomes{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := events.Encode(t.Context(), "s", "id", "src", tc.ceType, "q", tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if ct := msg.Header.Get("content-type"); ct != events.ContentTypeProtobuf {
				t.Errorf("content-type %q, want %q", ct, events.ContentTypeProtobuf)
			}
			got := tc.decoded()
			if _, err := events.Decode(msg.Header, msg.Data, tc.ceType, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(reflect.ValueOf(got).Elem().Interface(), tc.payload) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.payload)
			}
			// JSON, as a tool would write it.
			msg.Header.Set("content-type", "application/json")
			js, err := events.Encode(t.Context(), "s", "id", "src", tc.ceType, "q", jsonOnly{tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			fromJSON := tc.decoded()
			if _, err := events.Decode(msg.Header, js.Data, tc.ceType, fromJSON); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromJSON, got) {
				t.Errorf("from JSON:\n got %+v\nwant %+v", fromJSON, got)
			}
		})
	}
}

// jsonOnly hides a payload's own wire form, so that Encode writes it as JSON.
type jsonOnly struct{ v any }

func (j jsonOnly) MarshalJSON() ([]byte, error) { return json.Marshal(j.v) }

// TestMalformedBatchesAreErrors: bytes that are not a batch (or whose query spec is not
// JSON) are a payload error, never a panic.
func TestMalformedBatchesAreErrors(t *testing.T) {
	msg, err := events.Encode(t.Context(), "s", "id", "src", events.TypeFragmentBatch, "q", sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated":    msg.Data[:len(msg.Data)/2],
		"not protobuf": []byte{0xff, 0xff, 0xff},
		"bad spec":     {0x0a, 0x05, 0x0a, 0x03, '{', 'x', '}'}, // fragments[0].query = "{x}"
	} {
		var b events.FragmentBatch
		if _, err := events.Decode(msg.Header, data, events.TypeFragmentBatch, &b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, b)
		}
	}
}

// FuzzFragmentBatch: any bytes given as a protobuf batch decode or fail, never panic; what
// decodes encodes and decodes again to the same batch.
func FuzzFragmentBatch(f *testing.F) {
	for _, p := range []events.EventMarshaler{sampleBatch(), sampleOutcomes()} {
		_, data, err := p.MarshalEvent()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b events.FragmentBatch
		if b.UnmarshalEvent(events.ContentTypeProtobuf, data) == nil {
			_, again, err := b.MarshalEvent()
			if err != nil {
				t.Fatal(err)
			}
			var b2 events.FragmentBatch
			if err := b2.UnmarshalEvent(events.ContentTypeProtobuf, again); err != nil || !reflect.DeepEqual(b.Fragments, b2.Fragments) {
				t.Errorf("re-encoded batch differs (%v):\n%+v\n%+v", err, b, b2)
			}
		}
		var o events.FragmentOutcomes
		_ = o.UnmarshalEvent(events.ContentTypeProtobuf, data)
	})
}

// TestOutcomeReporterGroupCommits: outcomes reported at once by many fragments are all
// stored, in fewer messages than outcomes (those reported while a message is being stored
// go together in the next), and each report returns only once its outcome is stored.
func TestOutcomeReporterGroupCommits(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	tracer, _ := newTracer(t)
	r := events.NewOutcomeReporter(events.NewPublisher(conn.JS, "sluice/test", tracer))
	const n = 200
	stored := func() map[string]bool {
		seen := map[string]bool{}
		s, err := conn.JS.Stream(ctx, events.StreamFragmentStatus)
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); ; {
			m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(events.SubjectFragmentOutcomes))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return seen
			}
			if err != nil {
				t.Fatal(err)
			}
			var o events.FragmentOutcomes
			if _, err := events.Decode(m.Header, m.Data, events.TypeFragmentOutcomes, &o); err != nil {
				t.Fatal(err)
			}
			for _, d := range o.Done {
				seen[d.FragmentID] = true
			}
			for _, f := range o.Failed {
				seen[f.FragmentID] = true
			}
			seq = m.Sequence + 1
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("f%d", i)
			run := events.FragmentRun{QueryID: "q", FragmentID: id, Cluster: "c", Dispatch: 1}
			var err error
			if i%10 == 0 {
				err = r.Failed(ctx, events.FragmentFailed{FragmentRun: run, Error: &events.QueryErrorInfo{Message: "x"}})
			} else {
				err = r.Done(ctx, events.FragmentDone{FragmentRun: run})
			}
			if err != nil {
				t.Error(err)
			} else if !stored()[id] {
				t.Errorf("report of %s returned before it was stored", id)
			}
		})
	}
	wg.Wait()
	if got := len(stored()); got != n {
		t.Errorf("%d outcomes stored, want %d", got, n)
	}
	s, _ := conn.JS.Stream(ctx, events.StreamFragmentStatus)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs >= n {
		t.Errorf("%d messages for %d outcomes: reports were not grouped", info.State.Msgs, n)
	}
	t.Logf("%d outcomes in %d messages", n, info.State.Msgs)
}
