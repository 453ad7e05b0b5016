package bench

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// fragmentRun is one plan fragment's run on an executor: the executor's span of it.
type fragmentRun struct {
	query      string
	start, end time.Time
}

// fragmentSpans records the executors' fragment spans ("process sluice.plan-fragment.*")
// of every fleet started while it is installed as the global tracer provider.
type fragmentSpans struct {
	mu   sync.Mutex
	runs []fragmentRun
}

// recordFragmentSpans installs a recorder as the global tracer provider until the
// benchmark ends (services take their tracers when they start).
func recordFragmentSpans(b *testing.B) *fragmentSpans {
	rec := &fragmentSpans{}
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	b.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec
}

// take returns the runs recorded so far and forgets them.
func (r *fragmentSpans) take() []fragmentRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.runs
	r.runs = nil
	return out
}

// OnEnd records an executor's fragment span.
func (r *fragmentSpans) OnEnd(s sdktrace.ReadOnlySpan) {
	if !strings.HasPrefix(s.Name(), "process "+events.SubjectPlanFragmentPrefix) {
		return
	}
	for _, a := range s.Attributes() {
		if a.Key == events.AttrQueryID {
			r.mu.Lock()
			r.runs = append(r.runs, fragmentRun{query: a.Value.AsString(), start: s.StartTime(), end: s.EndTime()})
			r.mu.Unlock()
			return
		}
	}
}

// OnStart, Shutdown and ForceFlush complete sdktrace.SpanProcessor.
func (r *fragmentSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *fragmentSpans) Shutdown(context.Context) error                  { return nil }
func (r *fragmentSpans) ForceFlush(context.Context) error                { return nil }

// longTime splits the latency of the long plans of a played schedule, on average per
// long plan, by what the one executor slot ran meanwhile (from the plan's submission to
// its last fragment's end): its own fragments, short plans' fragments, and long plans'
// fragments of plans submitted before and after it; the rest (idle slot, dispatch, the
// client's last page) is other.
type longTime struct {
	own, short, earlierLong, laterLong, other time.Duration
}

// splitLongTime computes longTime from the fragment runs of one played schedule.
func splitLongTime(jobs []planJob, outs []planOutcome, runs []fragmentRun) longTime {
	type plan struct {
		long         bool
		submit, done time.Time
	}
	byID := map[string]plan{}
	for i, o := range outs {
		byID[o.id] = plan{jobs[i].long, o.submit, o.done}
	}
	var t longTime
	n := 0
	for id, p := range byID {
		if !p.long {
			continue
		}
		n++
		var own, short, earlier, later time.Duration
		for _, r := range runs {
			o, ok := byID[r.query]
			if !ok {
				continue
			}
			d := max(minTime(r.end, p.done).Sub(maxTime(r.start, p.submit)), 0)
			switch {
			case r.query == id:
				own += d
			case !o.long:
				short += d
			case o.submit.Before(p.submit):
				earlier += d
			default:
				later += d
			}
		}
		t.own += own
		t.short += short
		t.earlierLong += earlier
		t.laterLong += later
		t.other += p.done.Sub(p.submit) - own - short - earlier - later
	}
	if n > 0 {
		for _, d := range []*time.Duration{&t.own, &t.short, &t.earlierLong, &t.laterLong, &t.other} {
			*d /= time.Duration(n)
		}
	}
	return t
}

// meanLongTime averages the splits of several plays of one schedule.
func meanLongTime(ts []longTime) longTime {
	var m longTime
	for _, t := range ts {
		m.own += t.own
		m.short += t.short
		m.earlierLong += t.earlierLong
		m.laterLong += t.laterLong
		m.other += t.other
	}
	if n := time.Duration(len(ts)); n > 0 {
		m.own, m.short, m.earlierLong, m.laterLong, m.other = m.own/n, m.short/n, m.earlierLong/n, m.laterLong/n, m.other/n
	}
	return m
}
