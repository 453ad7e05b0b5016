package executorproxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/pkg/clientsession"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/results"
)

const (
	defaultTargetResultSize = 1 << 20
	maxTargetResultSize     = 128 << 20
	maxWait                 = time.Second
)

var directCounter atomic.Uint64

func (x *executor) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/statement", x.direct)
	mux.HandleFunc("GET /v1/statement/executing/{rest...}", x.executingGet)
	mux.HandleFunc("DELETE /v1/statement/executing/{rest...}", x.executingDelete)
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"nodeVersion": map[string]string{"version": "sluice-duckdb-0.1.0"},
			"environment": x.cfg.Cluster, "coordinator": true, "starting": false})
	})
	mux.HandleFunc("GET /v1/info/state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, "ACTIVE") })
	mux.HandleFunc("GET /v1/query/{id}", x.queryInfo)
	mux.HandleFunc("GET /ui/query/{id}", x.queryInfo)
	return mux
}

// executingPath parses /v1/statement/executing/{id}/{slug}/{token} and the Presto shape
// /v1/statement/executing/{id}/{token}?slug=.
func (x *executor) executingPath(r *http.Request) (*results.Query, int64, bool) {
	parts := strings.Split(r.PathValue("rest"), "/")
	var id, slug, tok string
	switch len(parts) {
	case 3:
		id, slug, tok = parts[0], parts[1], parts[2]
	case 2:
		id, tok, slug = parts[0], parts[1], r.URL.Query().Get("slug")
	default:
		return nil, 0, false
	}
	token, err := strconv.ParseInt(tok, 10, 64)
	if err != nil || token < 0 {
		return nil, 0, false
	}
	q, ok := x.store.Get(id)
	if !ok || q.Slug != slug {
		return nil, 0, false
	}
	return q, token, true
}

func (x *executor) executingGet(w http.ResponseWriter, r *http.Request) {
	q, token, ok := x.executingPath(r)
	if !ok {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	wait := maxWait
	if v := r.URL.Query().Get("maxWait"); v != "" {
		if d, err := protocol.ParseDuration(v); err == nil && d < wait {
			wait = max(d, 0)
		}
	}
	target := defaultTargetResultSize
	if v := r.URL.Query().Get("targetResultSize"); v != "" {
		if n, err := protocol.ParseDataSize(v); err == nil && n > 0 {
			target = int(min(n, maxTargetResultSize))
		}
	}
	status, body := q.Page(r.Context(), token, wait, target, x.base)
	if status != http.StatusOK {
		http.Error(w, string(body), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (x *executor) executingDelete(w http.ResponseWriter, r *http.Request) {
	q, _, ok := x.executingPath(r)
	if !ok {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	q.Cancel(protocol.NewError(protocol.UserCanceled, "Query was canceled"))
	w.WriteHeader(http.StatusNoContent)
}

func (x *executor) queryInfo(w http.ResponseWriter, r *http.Request) {
	q, ok := x.store.Get(r.PathValue("id"))
	if !ok {
		http.Error(w, "Query not found", http.StatusGone)
		return
	}
	done, qe, rows := q.Outcome()
	state := "RUNNING"
	if done {
		state = "FINISHED"
		if qe != nil {
			state = "FAILED"
		}
	}
	writeJSON(w, map[string]any{"queryId": q.ID, "state": state, "cluster": x.cfg.Cluster, "processedRows": rows, "failureInfo": qe})
}

// direct runs a query submitted straight to this cluster, as a standalone coordinator would:
// no global queue, no admission; the cluster's own slots still bound concurrency.
func (x *executor) direct(w http.ResponseWriter, r *http.Request) {
	if x.coord != nil {
		http.Error(w, "cluster "+x.cfg.Cluster+" runs its queries on "+x.coord.BaseURL()+": submit to Sluice or to the coordinator", http.StatusNotFound)
		return
	}
	spec, err := clientsession.Parse(r.Header)
	if err != nil {
		http.Error(w, clientsession.Message(err), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || strings.TrimSpace(string(body)) == "" {
		http.Error(w, "SQL statement is empty", http.StatusBadRequest)
		return
	}
	spec.SQL = strings.TrimSpace(string(body))
	spec.SubmittedAt = time.Now().UTC()
	spec.ID = time.Now().UTC().Format("20060102_150405") + "_" + leftPad(directCounter.Add(1)%100000) + "_" + x.directTag()
	qctx, cancel := context.WithCancelCause(context.Background())
	q := results.NewQuery(spec.ID, spec.Protocol, x.cfg.ResultBufferBytes, cancel)
	x.store.Add(q)
	go func() {
		defer cancel(nil)
		x.runDirect(spec, q, qctx)
	}()
	writeJSON(w, protocol.QueryResults{
		ID: spec.ID, InfoURI: x.base + "/ui/query/" + spec.ID, NextURI: q.ExecutingURI(x.base, 0),
		Stats: protocol.QueuedStats(0, 0), Warnings: []protocol.Warning{},
	})
}

func (x *executor) directTag() string {
	tag := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, strings.ToLower(x.cfg.Cluster))
	for len(tag) < 5 {
		tag += "0"
	}
	return tag[:5]
}

func leftPad(n uint64) string {
	s := strconv.FormatUint(n, 10)
	return strings.Repeat("0", max(0, 5-len(s))) + s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
