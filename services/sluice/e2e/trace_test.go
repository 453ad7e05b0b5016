package e2e

import (
	"context"
	"database/sql"
	"github.com/sluicehq/sluice/pkg/natstest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestOneTracePerQuery: the spans of one query, from every one of the five services, share
// one trace id.
func TestOneTracePerQuery(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	url := upInProcess(t, nil)
	db, err := sql.Open("trino", strings.Replace(url, "http://", "http://tracy@", 1)+"?catalog=tpch&schema=tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM region").Scan(&n); err != nil || n != 5 {
		t.Fatalf("count(*) FROM region = %d, %v", n, err)
	}
	// Find the query's ID from ingest's submit span, then wait for every service's span.
	want := []string{"sluice/ingest", "sluice/admission", "sluice/placement", "sluice/scheduler", "sluice/executorproxy"}
	var spans []sdktrace.ReadOnlySpan
	natstest.Eventually(t, 10*time.Second, "spans from all five services", func() bool {
		spans = querySpans(rec.Ended())
		seen := map[string]bool{}
		for _, s := range spans {
			seen[s.InstrumentationScope().Name] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	})
	traceID := spans[0].SpanContext().TraceID()
	for _, s := range spans {
		if s.SpanContext().TraceID() != traceID {
			t.Fatalf("span %q of %s has trace %s, want %s", s.Name(), s.InstrumentationScope().Name, s.SpanContext().TraceID(), traceID)
		}
	}
}

// querySpans returns the spans tagged with the first query id seen on a submit span.
func querySpans(all []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var id string
	for _, s := range all {
		if s.Name() == "publish sluice.query.submitted" {
			for _, a := range s.Attributes() {
				if a.Key == "sluice.query.id" {
					id = a.Value.AsString()
				}
			}
		}
	}
	if id == "" {
		return nil
	}
	var out []sdktrace.ReadOnlySpan
	for _, s := range all {
		for _, a := range s.Attributes() {
			if a.Key == "sluice.query.id" && a.Value.AsString() == id {
				out = append(out, s)
			}
		}
	}
	return out
}
