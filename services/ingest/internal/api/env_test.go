package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/ingest/internal/api"
	"github.com/sluicehq/sluice/services/ingest/internal/schedload"
	"github.com/sluicehq/sluice/services/ingest/internal/slug"
	"github.com/sluicehq/sluice/services/ingest/internal/statusview"
	"go.opentelemetry.io/otel/trace/noop"
)

// within bounds every wait of these tests.
const within = 10 * time.Second

// env is an ingest handler on a real embedded JetStream with Sluice's topology, without
// the status projector (the handler offers the statuses of the queries it accepts).
type env struct {
	srv     *api.Server
	js      jetstream.JetStream
	plans   jetstream.ObjectStore
	sched   jetstream.KeyValue
	load    *schedload.Watcher
	lastSeq uint64 // the last QUERIES sequence newSubmissions looked at
}

// newEnv starts the handler; opts may adjust its options.
func newEnv(tb testing.TB, opts func(*api.Options)) *env {
	tb.Helper()
	_, conn := natstest.RunSluice(tb)
	ctx := tb.Context()
	log := slog.New(slog.DiscardHandler)
	statusKV, err := conn.JS.KeyValue(ctx, events.BucketQueryStatus)
	check(tb, err)
	cache, err := statusview.StartCache(ctx, statusKV)
	check(tb, err)
	natstest.Closed(tb, within, "the status cache", cache.Ready())
	e := &env{js: conn.JS}
	e.plans, err = conn.JS.ObjectStore(ctx, events.ObjectPlans)
	check(tb, err)
	e.sched, err = conn.JS.KeyValue(ctx, events.BucketScheduler)
	check(tb, err)
	e.load, err = schedload.Start(ctx, conn.JS, log)
	check(tb, err)
	o := api.Options{PublicURL: "http://sluice.test", ClientTimeout: time.Minute, Plans: e.plans, SchedulerLoad: e.load}
	if opts != nil {
		opts(&o)
	}
	tracer := noop.NewTracerProvider().Tracer("test")
	e.srv = api.New(o, events.NewPublisher(conn.JS, "test", tracer), cache, slug.NewMinter([]byte("test secret")), tracer, log)
	return e
}

func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// headers returns request headers: a Trino user, then name/value pairs.
func headers(kv ...string) http.Header {
	h := http.Header{"X-Trino-User": {"alice"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// do sends a request to the handler.
func (e *env) do(method, target string, h http.Header, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, v := range h {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// results decodes a QueryResults answer, failing tb if it is none.
func results(tb testing.TB, w *httptest.ResponseRecorder) protocol.QueryResults {
	tb.Helper()
	var qr protocol.QueryResults
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("HTTP %d, Content-Type %q: %s", w.Code, ct, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), &qr); err != nil || qr.ID == "" || qr.InfoURI == "" {
		tb.Fatalf("HTTP %d: not a QueryResults document (%v): %s", w.Code, err, w.Body.String())
	}
	return qr
}

// newSubmissions returns the submitted events published since the last call.
func (e *env) newSubmissions(tb testing.TB) []events.QuerySpec {
	tb.Helper()
	ctx := tb.Context()
	stream, err := e.js.Stream(ctx, events.StreamQueries)
	check(tb, err)
	info, err := stream.Info(ctx)
	check(tb, err)
	var specs []events.QuerySpec
	for seq := e.lastSeq + 1; seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil || msg.Subject != events.SubjectSubmitted {
			continue
		}
		var p events.QuerySubmitted
		_, err = events.Decode(msg.Header, msg.Data, events.TypeQuerySubmitted, &p)
		check(tb, err)
		specs = append(specs, p.Query)
	}
	e.lastSeq = info.State.LastSeq
	return specs
}

// submitted returns the one submitted event published since the last look, which must be
// the query id's.
func (e *env) submitted(tb testing.TB, id string) events.QuerySpec {
	tb.Helper()
	specs := e.newSubmissions(tb)
	if len(specs) != 1 || specs[0].ID != id {
		tb.Fatalf("want one submitted event of %s, got %d: %+v", id, len(specs), specs)
	}
	return specs[0]
}

// nothingSubmitted fails tb if a submitted event was published since the last look.
func (e *env) nothingSubmitted(tb testing.TB) {
	tb.Helper()
	if specs := e.newSubmissions(tb); len(specs) > 0 {
		tb.Fatalf("%d queries were submitted: %+v", len(specs), specs[0])
	}
}

// failedWith checks a refused submission: HTTP code, a failed QueryResults without
// nextUri, the error's name and message fragments.
func failedWith(tb testing.TB, w *httptest.ResponseRecorder, code int, name string, contains ...string) protocol.QueryResults {
	tb.Helper()
	qr := results(tb, w)
	if w.Code != code || qr.NextURI != "" || qr.Stats.State != protocol.StateFailed || qr.Error == nil {
		tb.Fatalf("HTTP %d (want %d), want a failed query: %s", w.Code, code, w.Body.String())
	}
	if qr.Error.ErrorName != name {
		tb.Errorf("error %s, want %s: %s", qr.Error.ErrorName, name, qr.Error.Message)
	}
	for _, s := range contains {
		if !strings.Contains(qr.Error.Message, s) {
			tb.Errorf("message %q lacks %q", qr.Error.Message, s)
		}
	}
	return qr
}
