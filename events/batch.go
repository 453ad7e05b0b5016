package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/events/internal/wire"
	"google.golang.org/protobuf/proto"
)

// ContentTypeProtobuf is the data content type of events carried as protobuf.
const ContentTypeProtobuf = "application/protobuf"

// EventMarshaler is a payload with its own wire form: Encode carries its bytes as the
// event's data, with its content type, instead of JSON.
type EventMarshaler interface {
	MarshalEvent() (contentType string, data []byte, err error)
}

// EventUnmarshaler is a payload that reads its own wire form: Decode hands it the event's
// data and content type instead of unmarshalling JSON.
type EventUnmarshaler interface {
	UnmarshalEvent(contentType string, data []byte) error
}

// MarshalEvent encodes the batch as protobuf (wire.FragmentBatch).
func (b FragmentBatch) MarshalEvent() (string, []byte, error) {
	w := &wire.FragmentBatch{Fragments: make([]*wire.Fragment, 0, len(b.Fragments))}
	specs := map[string][]byte{} // a batch often carries several fragments of one query
	for _, f := range b.Fragments {
		spec, ok := specs[f.Query.ID]
		if !ok {
			var err error
			if spec, err = json.Marshal(f.Query); err != nil {
				return "", nil, err
			}
			specs[f.Query.ID] = spec
		}
		wf := &wire.Fragment{Query: spec, FragmentId: f.FragmentID, Cluster: f.Cluster, Attempt: int64(f.Attempt), Sql: f.SQL,
			Plan: f.Plan, PlanObject: f.PlanObject, Root: f.Root, Dispatch: int64(f.Dispatch), Home: f.Home, Region: f.Region, Trace: f.Trace}
		wf.ReleasedAt = unixNano(f.ReleasedAt)
		for _, in := range f.Inputs {
			wf.Inputs = append(wf.Inputs, outputToWire(in))
		}
		w.Fragments = append(w.Fragments, wf)
	}
	data, err := proto.Marshal(w)
	return ContentTypeProtobuf, data, err
}

// UnmarshalEvent decodes a batch from protobuf, or from JSON (for tools that write it).
func (b *FragmentBatch) UnmarshalEvent(contentType string, data []byte) error {
	if contentType != ContentTypeProtobuf {
		return json.Unmarshal(data, b)
	}
	var w wire.FragmentBatch
	if err := proto.Unmarshal(data, &w); err != nil {
		return err
	}
	specs := map[string]QuerySpec{} // by their JSON: decoded once per query
	b.Fragments = make([]Fragment, 0, len(w.Fragments))
	for i, wf := range w.Fragments {
		spec, ok := specs[string(wf.Query)]
		if !ok {
			if err := json.Unmarshal(wf.Query, &spec); err != nil {
				return fmt.Errorf("fragment %d: query: %w", i, err)
			}
			specs[string(wf.Query)] = spec
		}
		f := Fragment{Query: spec, FragmentID: wf.FragmentId, Cluster: wf.Cluster, Attempt: int(wf.Attempt), SQL: wf.Sql, Plan: wf.Plan, PlanObject: wf.PlanObject,
			Root: wf.Root, Dispatch: int(wf.Dispatch), Home: wf.Home, Region: wf.Region, Trace: wf.Trace}
		f.ReleasedAt = fromUnixNano(wf.ReleasedAt)
		for _, in := range wf.Inputs {
			f.Inputs = append(f.Inputs, outputFromWire(in))
		}
		b.Fragments = append(b.Fragments, f)
	}
	return nil
}

// MarshalEvent encodes the outcomes as protobuf (wire.FragmentOutcomes).
func (o FragmentOutcomes) MarshalEvent() (string, []byte, error) {
	w := &wire.FragmentOutcomes{Done: make([]*wire.FragmentDone, 0, len(o.Done))}
	for _, d := range o.Done {
		w.Done = append(w.Done, &wire.FragmentDone{Run: runToWire(d.FragmentRun), Output: outputToWire(d.Output),
			ReleasedAt: unixNano(d.ReleasedAt), StartedAt: unixNano(d.StartedAt), EndedAt: unixNano(d.EndedAt)})
	}
	for _, f := range o.Failed {
		b, err := json.Marshal(f)
		if err != nil {
			return "", nil, err
		}
		w.Failed = append(w.Failed, b)
	}
	data, err := proto.Marshal(w)
	return ContentTypeProtobuf, data, err
}

// UnmarshalEvent decodes outcomes from protobuf, or from JSON (for tools that write it).
func (o *FragmentOutcomes) UnmarshalEvent(contentType string, data []byte) error {
	if contentType != ContentTypeProtobuf {
		return json.Unmarshal(data, o)
	}
	var w wire.FragmentOutcomes
	if err := proto.Unmarshal(data, &w); err != nil {
		return err
	}
	o.Done = make([]FragmentDone, 0, len(w.Done))
	for _, d := range w.Done {
		o.Done = append(o.Done, FragmentDone{FragmentRun: runFromWire(d.Run), Output: outputFromWire(d.Output),
			ReleasedAt: fromUnixNano(d.ReleasedAt), StartedAt: fromUnixNano(d.StartedAt), EndedAt: fromUnixNano(d.EndedAt)})
	}
	for i, b := range w.Failed {
		var f FragmentFailed
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("failed outcome %d: %w", i, err)
		}
		o.Failed = append(o.Failed, f)
	}
	return nil
}

func runToWire(r FragmentRun) *wire.FragmentRun {
	return &wire.FragmentRun{QueryId: r.QueryID, FragmentId: r.FragmentID, Cluster: r.Cluster, Attempt: int64(r.Attempt), Dispatch: int64(r.Dispatch)}
}

// runFromWire reads a run (nil: the zero run).
func runFromWire(r *wire.FragmentRun) FragmentRun {
	return FragmentRun{QueryID: r.GetQueryId(), FragmentID: r.GetFragmentId(), Cluster: r.GetCluster(), Attempt: int(r.GetAttempt()), Dispatch: int(r.GetDispatch())}
}

func outputToWire(o FragmentOutput) *wire.FragmentOutput {
	return &wire.FragmentOutput{Fragment: o.Fragment, Cluster: o.Cluster, Path: o.Path, Object: o.Object, Rows: o.Rows, Bytes: o.Bytes}
}

// outputFromWire reads an output (nil: the zero output).
func outputFromWire(o *wire.FragmentOutput) FragmentOutput {
	return FragmentOutput{Fragment: o.GetFragment(), Cluster: o.GetCluster(), Path: o.GetPath(), Object: o.GetObject(), Rows: o.GetRows(), Bytes: o.GetBytes()}
}

// unixNano is t in nanoseconds since the Unix epoch (0 for the zero time).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the UTC time of n nanoseconds since the Unix epoch (0: the zero time).
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
