package e2e

import (
	"context"
	"database/sql"
	"errors"
	"github.com/sluicehq/sluice/pkg/natstest"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
	"github.com/trinodb/trino-go-client/trino"
)

// TestPrestoHeaderFamily runs a query with X-Presto-* headers and checks Presto URL shapes.
func TestPrestoHeaderFamily(t *testing.T) {
	url := upInProcess(t, nil)
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Presto-User": "alice", "X-Presto-Catalog": "tpch", "X-Presto-Schema": "tiny", "X-Presto-Source": "presto-cli"}}
	pages := c.run("SELECT n_name FROM nation WHERE n_nationkey < 3 ORDER BY n_nationkey")
	first := pages[0]
	if first.Stats.State != "QUEUED" || !first.Stats.Queued || first.InfoURI == "" {
		t.Fatalf("first response %+v: want state QUEUED, queued, infoUri", first.Stats)
	}
	if !regexp.MustCompile(`^[0-9]{8}_[0-9]{6}_[0-9]{5}_[a-z0-9]{5}$`).MatchString(first.ID) {
		t.Fatalf("query id %q is not in the engines' format", first.ID)
	}
	if !regexp.MustCompile(`/v1/statement/queued/` + first.ID + `/1\?slug=x[0-9a-f]{32}$`).MatchString(first.NextURI) {
		t.Fatalf("queued nextUri %q is not Presto-shaped", first.NextURI)
	}
	rows := rowsOf(pages)
	want := [][]any{{"ALGERIA"}, {"ARGENTINA"}, {"BRAZIL"}}
	if len(rows) != 3 || rows[0][0] != want[0][0] || rows[1][0] != want[1][0] || rows[2][0] != want[2][0] {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	last := pages[len(pages)-1]
	if last.Stats.State != "FINISHED" || last.NextURI != "" || last.Error != nil {
		t.Fatalf("last page: state %s nextUri %q error %v", last.Stats.State, last.NextURI, last.Error)
	}
	var sawExecuting bool
	for _, p := range pages {
		if strings.Contains(p.NextURI, "/v1/statement/executing/"+first.ID+"/") && strings.Contains(p.NextURI, "?slug=") {
			sawExecuting = true
		}
	}
	if !sawExecuting {
		t.Fatal("the client was never handed a Presto-shaped executing URL")
	}
	if cols := last.Columns; len(cols) != 1 || cols[0].Name != "n_name" || cols[0].Type != "varchar" {
		t.Fatalf("columns %+v", cols)
	}

	t.Run("mixed header families are rejected", func(t *testing.T) {
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Presto-User": "a", "X-Trino-User": "a"}}
		code, body := c.do(http.MethodPost, url+"/v1/statement", "SELECT 1")
		if code != http.StatusBadRequest || !strings.Contains(string(body), "Both Trino and Presto headers") {
			t.Fatalf("HTTP %d %s", code, body)
		}
	})
}

func queryError(t *testing.T, err error) *trino.ErrTrino {
	t.Helper()
	var qf *trino.ErrTrino
	if !errors.As(err, &qf) {
		t.Fatalf("error %v (%T) is not a protocol query failure", err, err)
	}
	return qf
}

// TestProtocolErrors checks that bad queries fail with proper protocol errors.
func TestProtocolErrors(t *testing.T) {
	url := upInProcess(t, nil)
	cases := []struct {
		name, sql, catalog, wantName, wantType string
	}{
		{"syntax error", "SELEC 1", "tpch", "SYNTAX_ERROR", "USER_ERROR"},
		{"unknown table", "SELECT * FROM tpch.tiny.no_such_table", "tpch", "TABLE_NOT_FOUND", "USER_ERROR"},
		{"unknown catalog in the SQL", "SELECT * FROM nosuch.tiny.lineitem", "tpch", "CATALOG_NOT_FOUND", "USER_ERROR"},
		{"unknown catalog in the session", "SELECT 1", "nosuch", "CATALOG_NOT_FOUND", "USER_ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "bob", "X-Trino-Catalog": tc.catalog, "X-Trino-Schema": "tiny"}}
			pages := c.run(tc.sql)
			last := pages[len(pages)-1]
			if last.Error == nil {
				t.Fatalf("no error for %q", tc.sql)
			}
			if last.Error.ErrorName != tc.wantName || last.Error.ErrorType != tc.wantType || last.Stats.State != "FAILED" || last.NextURI != "" {
				t.Fatalf("error %+v state %s, want %s/%s FAILED", last.Error, last.Stats.State, tc.wantName, tc.wantType)
			}
			if last.Error.Message == "" || last.Error.ErrorCode == 0 && tc.wantName != "GENERIC_USER_ERROR" {
				t.Fatalf("error lacks message or code: %+v", last.Error)
			}
		})
	}
	t.Run("through trino-go-client", func(t *testing.T) {
		db, _ := sql.Open("trino", strings.Replace(url, "http://", "http://bob@", 1)+"?catalog=tpch&schema=tiny")
		defer db.Close()
		_, err := db.Query("SELECT * FROM no_such_table")
		if qf := queryError(t, err); qf.ErrorName != "TABLE_NOT_FOUND" {
			t.Fatalf("error name %q", qf.ErrorName)
		}
	})
	t.Run("empty statement", func(t *testing.T) {
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "bob"}}
		if code, _ := c.do(http.MethodPost, url+"/v1/statement", "  "); code != http.StatusBadRequest {
			t.Fatalf("HTTP %d, want 400", code)
		}
	})
	t.Run("missing user", func(t *testing.T) {
		c := rawClient{t: t, base: url, headers: map[string]string{}}
		if code, body := c.do(http.MethodPost, url+"/v1/statement", "SELECT 1"); code != http.StatusBadRequest || !strings.Contains(string(body), "User must be set") {
			t.Fatalf("HTTP %d %s, want 400 User must be set", code, body)
		}
	})
	t.Run("unknown query id", func(t *testing.T) {
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "bob"}}
		if code, _ := c.do(http.MethodGet, url+"/v1/query/20260101_000000_00000_zzzzz", ""); code != http.StatusGone {
			t.Fatalf("HTTP %d, want 410", code)
		}
	})
}

// TestQueuedTokenRules: same token again is allowed (retry), an older one is 410, a forged
// slug is 404.
func TestQueuedTokenRules(t *testing.T) {
	url := upInProcess(t, func(c *cli.UpConfig) { c.MaxRunning = 0 }) // nothing runs: the query stays queued
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "carol"}}
	first := c.results(http.MethodPost, url+"/v1/statement", "SELECT 1")
	p1 := c.results(http.MethodGet, first.NextURI+"?maxWait=10ms", "")
	again := c.results(http.MethodGet, first.NextURI+"?maxWait=10ms", "")
	if again.ID != first.ID || again.Stats.State != "QUEUED" {
		t.Fatalf("repeating token 1: %+v", again)
	}
	p2 := c.results(http.MethodGet, p1.NextURI+"?maxWait=10ms", "")
	if p2.Stats.State != "QUEUED" || p2.NextURI == "" {
		t.Fatalf("token 2: %+v", p2)
	}
	if code, _ := c.do(http.MethodGet, first.NextURI, ""); code != http.StatusGone {
		t.Fatalf("stale token: HTTP %d, want 410", code)
	}
	forged := regexp.MustCompile(`/y[0-9a-f]{32}/`).ReplaceAllString(p2.NextURI, "/y00000000000000000000000000000000/")
	if code, _ := c.do(http.MethodGet, forged, ""); code != http.StatusNotFound {
		t.Fatalf("forged slug: HTTP %d, want 404", code)
	}
	start := time.Now()
	c.results(http.MethodGet, p2.NextURI, "")
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("queued poll without maxWait returned after %s; want a ~1s long poll", waited)
	}
}

// TestCancel cancels a query while it is queued (DELETE on the queued URL) and while it
// runs (DELETE /v1/query/{id}, as trino-go-client does).
func TestCancel(t *testing.T) {
	t.Run("while queued", func(t *testing.T) {
		url := upInProcess(t, func(c *cli.UpConfig) { c.MaxRunning = 0 })
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "dave"}}
		first := c.results(http.MethodPost, url+"/v1/statement", "SELECT 1")
		if code, _ := c.do(http.MethodDelete, first.NextURI, ""); code != http.StatusNoContent {
			t.Fatalf("DELETE queued: HTTP %d", code)
		}
		qr := c.results(http.MethodGet, first.NextURI, "")
		for qr.NextURI != "" {
			qr = c.results(http.MethodGet, qr.NextURI, "")
		}
		if qr.Error == nil || qr.Error.ErrorName != protocol.UserCanceled.Name || qr.Stats.State != "FAILED" {
			t.Fatalf("after cancel: %+v error %+v", qr.Stats, qr.Error)
		}
		assertQueryState(t, url, first.ID, "CANCELED")
	})
	t.Run("while running", func(t *testing.T) {
		url := upInProcess(t, nil)
		db, _ := sql.Open("trino", strings.Replace(url, "http://", "http://erin@", 1)+"?catalog=tpch&schema=tiny")
		defer db.Close()
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "erin"}}
		// A query that runs for minutes unless canceled.
		first := c.results(http.MethodPost, url+"/v1/statement", "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3")
		natstest.Eventually(t, 30*time.Second, "query running", func() bool { return queryState(t, url, first.ID) == "RUNNING" })
		if code, _ := c.do(http.MethodDelete, url+"/v1/query/"+first.ID, ""); code != http.StatusNoContent {
			t.Fatalf("DELETE /v1/query: HTTP %d", code)
		}
		natstest.Eventually(t, 30*time.Second, "query canceled", func() bool { return queryState(t, url, first.ID) == "CANCELED" })

		// trino-go-client's own cancel path: context cancellation sends DELETE /v1/query/{id}.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := db.QueryContext(ctx, "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3")
		if err == nil {
			t.Fatal("long query through the driver returned no error after its context ended")
		}
	})
}

func queryState(t *testing.T, url, id string) string {
	t.Helper()
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "admin"}}
	code, body := c.do(http.MethodGet, url+"/v1/query/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/query/%s: HTTP %d %s", id, code, body)
	}
	m := regexp.MustCompile(`"state":"([A-Z]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no state in %s", body)
	}
	return string(m[1])
}

func assertQueryState(t *testing.T, url, id, want string) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, "state "+want, func() bool { return queryState(t, url, id) == want })
}
