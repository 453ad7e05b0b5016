package testcoordinator_test

import (
	"bytes"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

var (
	queryIDRe       = regexp.MustCompile(`^\d{8}_\d{6}_\d{5}_[a-z0-9]+$`)
	trinoQueuedRe   = regexp.MustCompile(`^http://[^/]+/v1/statement/queued/(\w+)/y[0-9a-f]{40}/(\d+)$`)
	trinoExecRe     = regexp.MustCompile(`^http://[^/]+/v1/statement/executing/(\w+)/y[0-9a-f]{40}/(\d+)$`)
	prestoQueuedRe  = regexp.MustCompile(`^http://[^/]+/v1/statement/queued/(\w+)/(\d+)\?slug=x[0-9a-f]{32}$`)
	prestoExecRe    = regexp.MustCompile(`^http://[^/]+/v1/statement/executing/(\w+)/(\d+)\?slug=x[0-9a-f]{32}$`)
	queuedURIByFlav = map[events.Protocol]*regexp.Regexp{events.ProtocolTrino: trinoQueuedRe, events.ProtocolPresto: prestoQueuedRe}
	execURIByFlav   = map[events.Protocol]*regexp.Regexp{events.ProtocolTrino: trinoExecRe, events.ProtocolPresto: prestoExecRe}
)

func TestPostAnswersFirstResults(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			_, url := start(t, testcoordinator.Options{Flavor: f, CoordinatorID: "tc001"})
			status, hdr, b := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", prefix(f)+"User", "alice")
			r := results(t, status, b)
			if !queryIDRe.MatchString(r.ID) || !strings.HasSuffix(r.ID, "_tc001") {
				t.Errorf("id %q is not in the engine format", r.ID)
			}
			if r.InfoURI != url+"/ui/query.html?"+r.ID {
				t.Errorf("infoUri = %q", r.InfoURI)
			}
			m := queuedURIByFlav[f].FindStringSubmatch(r.NextURI)
			if m == nil || m[1] != r.ID || m[2] != "1" {
				t.Errorf("nextUri = %q", r.NextURI)
			}
			wantState, wantQueued := "QUEUED", true
			if f == events.ProtocolPresto {
				wantState, wantQueued = "WAITING_FOR_PREREQUISITES", false
			}
			if r.Stats.State != wantState || r.Stats.Queued != wantQueued || r.Columns != nil || r.Data != nil {
				t.Errorf("first results = %+v", r)
			}
			if !bytes.Contains(b, []byte(`"warnings":[]`)) {
				t.Errorf("warnings must be an empty list: %s", b)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestPostIdentityErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		flavor     events.Protocol
		headers    []string
		body       string
		wantStatus int
		wantBody   string
		wantAuth   string
	}{
		{"trino no user", events.ProtocolTrino, nil, "SELECT 1", 401,
			"Basic authentication or X-Trino-Original-User or X-Trino-User must be sent", `Basic realm="Trino"`},
		{"trino presto header ignored", events.ProtocolTrino, []string{"X-Presto-User", "bob"}, "SELECT 1", 401,
			"Basic authentication or X-Trino-Original-User or X-Trino-User must be sent", `Basic realm="Trino"`},
		{"trino password on insecure", events.ProtocolTrino, []string{"Authorization", "Basic Ym9iOnNlY3JldA=="}, "SELECT 1", 401,
			"Password not allowed for insecure authentication", `Basic realm="Trino"`},
		{"trino empty statement", events.ProtocolTrino, []string{"X-Trino-User", "bob"}, "", 400, "SQL statement is empty", ""},
		{"trino bad session header", events.ProtocolTrino, []string{"X-Trino-User", "bob", "X-Trino-Session", "novalue"}, "SELECT 1", 400,
			"Invalid header", ""},
		{"presto no user", events.ProtocolPresto, nil, "SELECT 1", 400, "User must be set", ""},
		{"presto trino header ignored", events.ProtocolPresto, []string{"X-Trino-User", "bob"}, "SELECT 1", 400, "User must be set", ""},
		{"presto empty statement", events.ProtocolPresto, []string{"X-Presto-User", "bob"}, "", 400, "SQL statement is empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: tc.flavor})
			status, hdr, b := call(t, http.MethodPost, url+"/v1/statement", tc.body, tc.headers...)
			if status != tc.wantStatus || !strings.HasPrefix(string(b), tc.wantBody) {
				t.Errorf("got %d %q, want %d %q", status, b, tc.wantStatus, tc.wantBody)
			}
			if got := hdr.Get("WWW-Authenticate"); got != tc.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantAuth)
			}
			if n := len(c.Queries()); n != 0 {
				t.Errorf("%d queries registered", n)
			}
		})
	}
}

func TestBasicUserWithoutPasswordIsTheUser(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{})
	status, _, b := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", "Authorization", "Basic Ym9iOg==") // bob:
	r := results(t, status, b)
	if rec, _ := c.Query(r.ID); rec.Spec.User != "bob" {
		t.Errorf("user = %q, want bob", rec.Spec.User)
	}
}

func TestSelectRunsThroughBothFlavors(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f})
			first := submit(t, f, url, "SELECT 1")
			if rec, _ := c.Query(first.ID); rec.State != testcoordinator.StateRegistered || rec.Submitted {
				t.Errorf("before the first poll: %+v", rec)
			}
			second := get(t, first.NextURI)
			if !execURIByFlav[f].MatchString(second.NextURI) {
				t.Errorf("first poll must hand over to the executing URL, got %q", second.NextURI)
			}
			if f == events.ProtocolTrino && second.Stats.State != "QUEUED" {
				t.Errorf("Trino's queued answer says %q", second.Stats.State)
			}
			cols, rows, last := drain(t, second)
			want := []protocol.Column{{Name: "_col0", Type: "integer", TypeSignature: protocol.TypeSignature{RawType: "integer", Arguments: []protocol.TypeArgument{}}}}
			if !reflect.DeepEqual(cols, want) {
				t.Errorf("columns = %+v", cols)
			}
			if !reflect.DeepEqual(rows, [][]any{{float64(1)}}) {
				t.Errorf("rows = %v", rows)
			}
			if last.Stats.State != "FINISHED" || last.Error != nil || last.NextURI != "" {
				t.Errorf("final page = %+v", last)
			}
			if rec, _ := c.Query(first.ID); rec.State != "FINISHED" || rec.RowsSent != 1 || !rec.Submitted {
				t.Errorf("record = %+v", rec)
			}
		})
	}
}

func TestPagesAreCutByPageRows(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{PageRows: 10})
	var want [][]any
	for i := range 25 {
		want = append(want, []any{float64(i), "r"})
	}
	c.Script("SELECT n, s FROM t", testcoordinator.Result{
		Columns: []protocol.Column{{Name: "n", Type: "bigint"}, {Name: "s", Type: "varchar"}},
		Rows:    want,
	})
	first := submit(t, events.ProtocolTrino, url, "SELECT n, s FROM t;")
	page := get(t, first.NextURI)
	var sizes []int
	for page.NextURI != "" {
		page = get(t, page.NextURI)
		if page.Data != nil {
			sizes = append(sizes, len(page.Data))
			if page.Stats.State != "FINISHED" {
				t.Errorf("a data page of a finished query says %q", page.Stats.State)
			}
		}
		if page.Columns == nil {
			t.Errorf("page without columns: %+v", page)
		}
	}
	if !reflect.DeepEqual(sizes, []int{10, 10, 5}) {
		t.Errorf("page sizes = %v", sizes)
	}
	_, rows, _ := drain(t, get(t, submit(t, events.ProtocolTrino, url, "SELECT n, s FROM t").NextURI))
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %v", rows)
	}
	sig := page.Columns[1].TypeSignature
	if sig.RawType != "varchar" || len(sig.Arguments) != 1 || sig.Arguments[0].Kind != "LONG" {
		t.Errorf("varchar signature = %+v", sig)
	}
}

func TestExecutingTokenRules(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f, MaxWait: time.Millisecond})
			c.Script("SELECT slow", testcoordinator.Result{Hold: true, Columns: []protocol.Column{{Name: "x", Type: "integer"}}, Rows: [][]any{{1}}})
			first := submit(t, f, url, "SELECT slow")
			handoff := get(t, first.NextURI)
			exec0 := handoff.NextURI
			if f == events.ProtocolPresto {
				// Presto answered executing page 0 from the queued URL; page 0 is still servable.
				exec0 = withToken(exec0, 0)
				// Queued token rule: two ahead of the last token is gone.
				if status, _, _ := call(t, http.MethodGet, withToken(first.NextURI, 3), ""); status != http.StatusGone {
					t.Errorf("queued token +2: status %d, want 410", status)
				}
			}
			s1, _, p1 := call(t, http.MethodGet, exec0, "")
			s2, _, p2 := call(t, http.MethodGet, exec0, "")
			if s1 != 200 || s2 != 200 || !bytes.Equal(p1, p2) {
				t.Fatalf("repeating a token must give the same page: %d %s / %d %s", s1, p1, s2, p2)
			}
			page0 := results(t, s1, p1)
			if page0.Stats.State != "RUNNING" || page0.NextURI == "" || page0.Data != nil {
				t.Errorf("running page = %+v", page0)
			}
			page1 := get(t, page0.NextURI)
			if status, _, _ := call(t, http.MethodGet, exec0, ""); status != http.StatusGone {
				t.Errorf("older token: status %d, want 410", status)
			}
			far := withToken(page1.NextURI, 7)
			if status, _, _ := call(t, http.MethodGet, far, ""); status != http.StatusNotFound {
				t.Errorf("future token: status %d, want 404", status)
			}
			bad := strings.Replace(page1.NextURI, "/executing/"+first.ID, "/executing/"+first.ID+"x", 1)
			if status, _, b := call(t, http.MethodGet, bad, ""); status != http.StatusNotFound || string(b) != "Query not found" {
				t.Errorf("unknown query: %d %s", status, b)
			}
			if err := c.Release(first.ID); err != nil {
				t.Fatal(err)
			}
			_, rows, last := drain(t, page1)
			if len(rows) != 1 || last.Stats.State != "FINISHED" {
				t.Errorf("after release: rows %v, last %+v", rows, last)
			}
			lastURI := withToken(page1.NextURI, 99)
			if status, _, _ := call(t, http.MethodGet, lastURI, ""); status != http.StatusNotFound {
				t.Errorf("after the end: status %d, want 404", status)
			}
		})
	}
}

func TestWrongSlugIsNotFound(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			_, url := start(t, testcoordinator.Options{Flavor: f})
			first := submit(t, f, url, "SELECT 1")
			var bad string
			if f == events.ProtocolTrino {
				bad = regexp.MustCompile(`/y[0-9a-f]{40}/`).ReplaceAllString(first.NextURI, "/y"+strings.Repeat("0", 40)+"/")
			} else {
				bad = regexp.MustCompile(`slug=x[0-9a-f]+`).ReplaceAllString(first.NextURI, "slug=x"+strings.Repeat("0", 32))
			}
			if status, _, b := call(t, http.MethodGet, bad, ""); status != http.StatusNotFound || string(b) != "Query not found" {
				t.Errorf("wrong slug: %d %s", status, b)
			}
			if status, _, _ := call(t, http.MethodDelete, bad, ""); status != http.StatusNotFound {
				t.Errorf("DELETE with a wrong slug: %d", status)
			}
		})
	}
}

func TestSyntaxErrorsComeFromTheQueuedPoll(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sql       string
		line, col int
		msg       string
	}{
		{"SELEC 1", 1, 1, "line 1:1: mismatched input 'SELEC'."},
		{"SELECT 1 FROM t", 1, 10, "line 1:10: mismatched input 'FROM'."},
		{"SELECT 1,\n  2 +", 2, 5, "line 2:5: mismatched input '+'."},
		{"SELECT", 1, 7, "line 1:7: mismatched input <EOF>."},
	}
	for _, f := range flavors {
		for _, tc := range cases {
			t.Run(string(f)+"/"+tc.sql, func(t *testing.T) {
				t.Parallel()
				c, url := start(t, testcoordinator.Options{Flavor: f})
				first := submit(t, f, url, tc.sql)
				r := get(t, first.NextURI)
				e := r.Error
				if r.NextURI != "" || r.Stats.State != "FAILED" || e == nil {
					t.Fatalf("queued poll = %+v", r)
				}
				if e.ErrorName != "SYNTAX_ERROR" || e.ErrorCode != 1 || e.ErrorType != "USER_ERROR" || !strings.HasPrefix(e.Message, tc.msg) {
					t.Errorf("error = %+v", e)
				}
				if e.ErrorLocation == nil || *e.ErrorLocation != (protocol.ErrorLocation{LineNumber: tc.line, ColumnNumber: tc.col}) {
					t.Errorf("location = %+v", e.ErrorLocation)
				}
				if e.FailureInfo == nil || !strings.HasSuffix(e.FailureInfo.Type, ".sql.parser.ParsingException") {
					t.Errorf("failureInfo = %+v", e.FailureInfo)
				}
				again := get(t, first.NextURI) // same token again: the same error
				if again.Error == nil || again.Error.Message != e.Message {
					t.Errorf("repeated poll = %+v", again)
				}
				_, info := queryInfo(t, f, url, first.ID)
				if field(info, "state") != "FAILED" || field(info, "errorCode", "name") != "SYNTAX_ERROR" || field(info, "errorType") != "USER_ERROR" {
					t.Errorf("query info = %v", info)
				}
				if rec, _ := c.Query(first.ID); rec.Error == nil || rec.Error.ErrorCode != 1 {
					t.Errorf("record = %+v", rec)
				}
			})
		}
	}
}

func TestBuiltinLiterals(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{})
	cols, rows, _ := drain(t, submit(t, events.ProtocolTrino, url, "select -7 as a, 'it''s' b, TRUE, null, 9999999999;"))
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+":"+c.Type)
	}
	want := []string{"a:integer", "b:varchar(4)", "_col2:boolean", "_col3:unknown", "_col4:bigint"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(rows, [][]any{{float64(-7), "it's", true, nil, float64(9999999999)}}) {
		t.Errorf("rows = %v", rows)
	}
}

func TestScriptedErrorFailsAfterRunning(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{})
	c.Script("SELECT 1/0", testcoordinator.Result{Hold: true, Error: protocol.NewError(protocol.DivisionByZero, "Division by zero")})
	first := submit(t, events.ProtocolTrino, url, "SELECT 1/0")
	handoff := get(t, first.NextURI)
	if !trinoExecRe.MatchString(handoff.NextURI) {
		t.Fatalf("a running query must reach the executing URL: %+v", handoff)
	}
	if err := c.Release(first.ID); err != nil {
		t.Fatal(err)
	}
	_, _, last := drain(t, handoff)
	if last.Error == nil || last.Error.ErrorName != "DIVISION_BY_ZERO" || last.Stats.State != "FAILED" {
		t.Errorf("final page = %+v", last)
	}
}
