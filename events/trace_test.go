package events_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/events"
)

// newTracer returns a tracer of a real SDK tracer provider that records every ended span.
func newTracer(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.WithoutCancel(t.Context())) })
	return tp.Tracer("events-test"), rec
}

func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

func TestHeaderCarrierIsCaseSensitive(t *testing.T) {
	t.Parallel()
	h := nats.Header{}
	c := events.HeaderCarrier(h)
	c.Set("traceparent", "v1")
	c.Set("tracestate", "a=b")
	if _, ok := h["traceparent"]; !ok {
		t.Fatalf("Set stored %v, want the lower-case key traceparent", h)
	}
	if _, ok := h["Traceparent"]; ok {
		t.Errorf("Set canonicalised the key: %v", h)
	}
	if got := c.Get("traceparent"); got != "v1" {
		t.Errorf("Get = %q", got)
	}
	c.Set("traceparent", "v2")
	if got := h.Values("traceparent"); !slices.Equal(got, []string{"v2"}) {
		t.Errorf("Set must replace: values = %v", got)
	}
	keys := c.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"traceparent", "tracestate"}) {
		t.Errorf("Keys = %v", keys)
	}
}

func TestInjectExtractTrace(t *testing.T) {
	t.Parallel()
	tracer, _ := newTracer(t)

	t.Run("no span injects nothing", func(t *testing.T) {
		t.Parallel()
		h := nats.Header{}
		events.InjectTrace(t.Context(), h)
		if _, ok := h["traceparent"]; ok {
			t.Errorf("traceparent injected without a span: %v", h)
		}
		if sc := trace.SpanContextFromContext(events.ExtractTrace(t.Context(), h)); sc.IsValid() {
			t.Errorf("extracted %v from empty headers", sc)
		}
	})

	t.Run("span round trip", func(t *testing.T) {
		t.Parallel()
		ctx, span := tracer.Start(t.Context(), "parent")
		defer span.End()
		sc := span.SpanContext()

		h := nats.Header{}
		events.InjectTrace(ctx, h)
		if got := h["traceparent"]; !slices.Equal(got, []string{traceparent(sc)}) {
			t.Fatalf("headers = %v, want lower-case traceparent %s", h, traceparent(sc))
		}
		if _, ok := h["Traceparent"]; ok {
			t.Errorf("canonical Traceparent must not be written: %v", h)
		}

		got := trace.SpanContextFromContext(events.ExtractTrace(context.WithoutCancel(t.Context()), h))
		if !got.IsValid() || !got.IsRemote() {
			t.Fatalf("extracted %+v, want a valid remote span context", got)
		}
		if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || got.TraceFlags() != sc.TraceFlags() {
			t.Errorf("extracted %s/%s, want %s/%s", got.TraceID(), got.SpanID(), sc.TraceID(), sc.SpanID())
		}
	})
}

// TestEncodeCarriesTraceToProcessSpan follows one event from the producer span through
// Encode's headers to the consumer span, which must be its child in the same trace.
func TestEncodeCarriesTraceToProcessSpan(t *testing.T) {
	t.Parallel()
	tracer, rec := newTracer(t)

	msgID := events.MsgIDAdmitted("q7")
	pctx, pspan := events.StartPublishSpan(t.Context(), tracer, events.SubjectAdmitted, msgID, "q7")
	msg, err := events.Encode(pctx, events.SubjectAdmitted, msgID, "sluice/admission", events.TypeQueryAdmitted, "q7", events.QueryAdmitted{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	pspan.End()
	if got := msg.Header.Get("traceparent"); got != traceparent(pspan.SpanContext()) {
		t.Fatalf("traceparent = %q, want %q", got, traceparent(pspan.SpanContext()))
	}

	// The consumer starts from a context that knows nothing of the producer.
	_, cspan := events.StartProcessSpan(context.WithoutCancel(t.Context()), tracer, msg.Header, events.SubjectAdmitted, events.ConsumerPlacement, len(msg.Data))
	cspan.End()

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("recorded %d spans, want 2", len(spans))
	}
	prod, cons := spans[0], spans[1]
	if prod.SpanKind() != trace.SpanKindProducer || prod.Name() != "publish "+events.SubjectAdmitted {
		t.Errorf("producer span = %s %s", prod.SpanKind(), prod.Name())
	}
	if cons.SpanKind() != trace.SpanKindConsumer || cons.Name() != "process "+events.SubjectAdmitted {
		t.Errorf("consumer span = %s %s", cons.SpanKind(), cons.Name())
	}
	if cons.SpanContext().TraceID() != prod.SpanContext().TraceID() {
		t.Errorf("consumer trace %s, producer trace %s: want one trace", cons.SpanContext().TraceID(), prod.SpanContext().TraceID())
	}
	if cons.Parent().SpanID() != prod.SpanContext().SpanID() || !cons.Parent().IsRemote() {
		t.Errorf("consumer parent = %s (remote %v), want producer %s", cons.Parent().SpanID(), cons.Parent().IsRemote(), prod.SpanContext().SpanID())
	}
	wantAttr := func(s sdktrace.ReadOnlySpan, k attribute.Key, v attribute.Value) {
		t.Helper()
		for _, kv := range s.Attributes() {
			if kv.Key == k {
				if kv.Value != v {
					t.Errorf("%s: %s = %v, want %v", s.Name(), k, kv.Value.String(), v.String())
				}
				return
			}
		}
		t.Errorf("%s: attribute %s missing", s.Name(), k)
	}
	wantAttr(prod, "messaging.message.id", attribute.StringValue(msgID))
	wantAttr(prod, events.AttrQueryID, attribute.StringValue("q7"))
	wantAttr(cons, "messaging.message.id", attribute.StringValue(msgID))
	wantAttr(cons, "messaging.consumer.group.name", attribute.StringValue(events.ConsumerPlacement))
	wantAttr(cons, "messaging.message.body.size", attribute.IntValue(len(msg.Data)))
}

// TestBatchItemCarriesItsTrace: each fragment of a batch carries its own release's trace
// context, and the executor's span for it is a child of that release, not of the batch.
func TestBatchItemCarriesItsTrace(t *testing.T) {
	t.Parallel()
	tracer, rec := newTracer(t)
	subject := events.PlanFragmentSubject("c1")
	var batch events.FragmentBatch
	var releases []trace.SpanContext
	for i := range 2 {
		ctx, span := events.StartPublishSpan(t.Context(), tracer, subject, fmt.Sprintf("f%d", i), fmt.Sprintf("q%d", i))
		batch.Fragments = append(batch.Fragments, events.Fragment{Query: events.QuerySpec{ID: fmt.Sprintf("q%d", i)}, FragmentID: fmt.Sprintf("f%d", i), Trace: events.TraceMap(ctx)})
		releases = append(releases, span.SpanContext())
		span.End()
	}
	msg, err := events.Encode(t.Context(), subject, "b1", "sluice/scheduler", events.TypeFragmentBatch, "q0", batch)
	if err != nil {
		t.Fatal(err)
	}
	var got events.FragmentBatch
	if _, err := events.Decode(msg.Header, msg.Data, events.TypeFragmentBatch, &got); err != nil {
		t.Fatal(err)
	}
	for i, f := range got.Fragments {
		_, span := events.StartItemSpan(context.WithoutCancel(t.Context()), tracer, f.Trace, subject, "executor-plans-c1", f.FragmentID)
		span.End()
		ended := rec.Ended()
		item := ended[len(ended)-1]
		if item.SpanKind() != trace.SpanKindConsumer || item.Parent().SpanID() != releases[i].SpanID() || item.SpanContext().TraceID() != releases[i].TraceID() {
			t.Errorf("fragment %d: span %s parent %s in trace %s, want a consumer span under release %s of trace %s",
				i, item.Name(), item.Parent().SpanID(), item.SpanContext().TraceID(), releases[i].SpanID(), releases[i].TraceID())
		}
	}
}
