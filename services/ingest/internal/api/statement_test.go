package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/ingest/internal/api"
)

// TestStatementAnswers: POST /v1/statement answers as a coordinator does: a queued query,
// a failed query's QueryResults, or plain text for a malformed request.
func TestStatementAnswers(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.MaxQueryBytes = 64 })

	w := e.do("POST", "/v1/statement", headers("X-Trino-Catalog", "tpch"), []byte(" SELECT 1 "))
	qr := results(t, w)
	if w.Code != http.StatusOK || qr.Stats.State != protocol.StateQueued || !strings.HasPrefix(qr.NextURI, "http://sluice.test/v1/statement/queued/"+qr.ID+"/") {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
	}
	if spec := e.submitted(t, qr.ID); spec.SQL != "SELECT 1" || spec.Catalog != "tpch" || spec.IsPlan() || spec.User != "alice" {
		t.Errorf("submitted %+v", spec)
	}

	failedWith(t, e.do("POST", "/v1/statement", headers(), []byte("SELECT '"+strings.Repeat("x", 64)+"'")), http.StatusOK, protocol.QueryTextTooLarge.Name, "exceeds the maximum length (64)")
	failedWith(t, e.do("POST", "/v1/statement", headers("X-Trino-Transaction-Id", "tx1"), []byte("SELECT 1")), http.StatusOK, protocol.NotSupported.Name, "X-Trino-Transaction-Id: NONE")
	for name, c := range map[string]struct {
		h    http.Header
		body string
		want string
	}{
		"empty":          {headers(), "  ", "SQL statement is empty"},
		"no user":        {http.Header{}, "SELECT 1", "User must be set"},
		"mixed families": {headers("X-Presto-Source", "x"), "SELECT 1", "Both Trino and Presto headers detected"},
	} {
		w := e.do("POST", "/v1/statement", c.h, []byte(c.body))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), c.want) || strings.HasPrefix(w.Body.String(), "{") {
			t.Errorf("%s: HTTP %d %q, want 400 with %q as text", name, w.Code, w.Body.String(), c.want)
		}
	}
	e.nothingSubmitted(t)
	if st, ok := e.srv.Status(t.Context(), qr.ID); !ok || st.State != events.StateQueued {
		t.Errorf("status of the accepted query: %+v, %v", st, ok)
	}
}
