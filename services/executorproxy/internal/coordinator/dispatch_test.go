package coordinator_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
)

var engineIDRe = regexp.MustCompile(`^\d{8}_\d{6}_\d{5}_[a-z0-9]+$`)

// fullSpec sets every field of a QuerySpec.
func fullSpec(id string) events.QuerySpec {
	return events.QuerySpec{
		ID: id, SQL: "SELECT 1", Protocol: events.ProtocolTrino, User: "alice", OriginalUser: "root",
		Source: "dbt", Catalog: "hive", Schema: "web", Path: "hive.web", TimeZone: "Europe/Warsaw",
		Language: "pl-PL", TraceToken: "trace-7", ClientInfo: "nightly job", ClientTags: []string{"etl", "gold"},
		Session:          map[string]string{"query_max_run_time": "1h", "hive.compression": "zstd, fast"},
		Roles:            map[string]string{"hive": "ROLE{admin}", "system": "ALL"},
		PreparedStmts:    map[string]string{"q1": "SELECT * FROM t WHERE a = ?"},
		ExtraCredentials: map[string]string{"token": "a=b,c"},
		ResourceEstimate: map[string]string{"EXECUTION_TIME": "10m", "PEAK_MEMORY": "1GB"},
		RoutingGroup:     "adhoc",
		TransactionID:    "tx-1",
	}
}

func TestDispatchForwardsEverySessionHeader(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f})
			cl := newClient(t, url, f)
			in := fullSpec("20260821_101500_00001_slc01")
			h, _, err := cl.Dispatch(t.Context(), in, coordinator.WithAuthorization("Bearer user-jwt"))
			if err != nil {
				t.Fatal(err)
			}
			rec, ok := co.Query(h.QueryID)
			if !ok {
				t.Fatalf("query %s not on the coordinator", h.QueryID)
			}
			p := "X-Trino-"
			if f == events.ProtocolPresto {
				p = "X-Presto-"
			}
			want := map[string][]string{
				p + "User": {"alice"}, p + "Source": {"dbt"}, p + "Catalog": {"hive"}, p + "Schema": {"web"},
				p + "Path": {"hive.web"}, p + "Time-Zone": {"Europe/Warsaw"}, p + "Language": {"pl-PL"},
				p + "Trace-Token": {"trace-7"}, p + "Client-Info": {"nightly job"}, p + "Client-Tags": {"etl,gold"},
				p + "Transaction-Id":     {"tx-1"},
				p + "Session":            {"hive.compression=zstd%2C+fast", "query_max_run_time=1h"},
				p + "Role":               {"hive=ROLE%7Badmin%7D", "system=ALL"},
				p + "Prepared-Statement": {"q1=SELECT+%2A+FROM+t+WHERE+a+%3D+%3F"},
				p + "Extra-Credential":   {"token=a%3Db%2Cc"},
				p + "Resource-Estimate":  {"EXECUTION_TIME=10m", "PEAK_MEMORY=1GB"},
				"Authorization":          {"Bearer user-jwt"},
				"Content-Type":           {"text/plain; charset=utf-8"},
				"User-Agent":             {"sluice-executorproxy"},
			}
			if f == events.ProtocolTrino {
				want[p+"Original-User"] = []string{"root"}
			}
			got := map[string][]string{}
			for k, v := range rec.Header {
				if k == "Content-Length" || k == "Accept-Encoding" {
					continue
				}
				got[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("headers differ:\n%s", diffHeaders(got, want))
			}
			// The coordinator parses them back into the same session (routing group excepted).
			wantSpec := in
			wantSpec.ID, wantSpec.Protocol, wantSpec.RoutingGroup = h.QueryID, f, ""
			if f == events.ProtocolPresto {
				wantSpec.OriginalUser = ""
			}
			if !reflect.DeepEqual(rec.Spec, wantSpec) {
				t.Errorf("parsed spec\n got %+v\nwant %+v", rec.Spec, wantSpec)
			}
			if rec.SQL != "SELECT 1" {
				t.Errorf("sql = %q", rec.SQL)
			}
		})
	}
}

// diffHeaders lists the header names whose values differ.
func diffHeaders(got, want map[string][]string) string {
	var out []string
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			out = append(out, k+": got "+strings.Join(got[k], " | ")+"; want "+strings.Join(want[k], " | "))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, k+": unexpected "+strings.Join(got[k], " | "))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestDispatchTrinoMapsTheID(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{})
	cl := newClient(t, url, events.ProtocolTrino)
	const sluiceID = "20260821_101500_00002_slc01"
	h, res, err := cl.Dispatch(t.Context(), spec(sluiceID, "SELECT 1"))
	if err != nil {
		t.Fatal(err)
	}
	if h.QueryID == sluiceID || !engineIDRe.MatchString(h.QueryID) || h.SluiceID != sluiceID {
		t.Errorf("handle = %+v", h)
	}
	if res.ID != h.QueryID || res.NextURI != h.NextURI || !strings.HasPrefix(h.NextURI, url+"/v1/statement/queued/"+h.QueryID+"/") {
		t.Errorf("results %+v, handle %+v", res, h)
	}
	if rec, _ := co.Query(h.QueryID); rec.Method != http.MethodPost || rec.Submitted {
		t.Errorf("record = %+v", rec)
	}
	last, rows := follow(t, h.NextURI)
	if rows != 1 || last.Stats.State != "FINISHED" {
		t.Errorf("client saw %d rows, final %+v", rows, last)
	}
}

func TestDispatchPrestoKeepsTheID(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{Flavor: events.ProtocolPresto})
	cl := newClient(t, url, events.ProtocolPresto, coordinator.WithSlugSecret([]byte("0123456789abcdef")))
	const id = "20260821_101500_00003_slc01"
	h, res, err := cl.Dispatch(t.Context(), spec(id, "SELECT 1"))
	if err != nil {
		t.Fatal(err)
	}
	if h.QueryID != id || res.ID != id || res.Stats.State != "WAITING_FOR_PREREQUISITES" {
		t.Errorf("handle %+v, results %+v", h, res)
	}
	rec, _ := co.Query(id)
	if rec.Method != http.MethodPut || !regexp.MustCompile(`^x[0-9a-f]{32}$`).MatchString(rec.Slug) {
		t.Errorf("record = %+v", rec)
	}
	if !strings.HasPrefix(h.NextURI, url+"/v1/statement/queued/"+id+"/1?slug="+rec.Slug) {
		t.Errorf("nextUri = %q", h.NextURI)
	}

	// A redelivered dispatch before the client polled gets the same query back, also from
	// another client sharing the slug secret.
	other := newClient(t, url, events.ProtocolPresto, coordinator.WithSlugSecret([]byte("0123456789abcdef")))
	h2, _, err := other.Dispatch(t.Context(), spec(id, "SELECT 1"))
	if err != nil || h2 != h {
		t.Errorf("repeated dispatch: %+v, %v", h2, err)
	}
	if rec, _ := co.Query(id); rec.Puts != 2 {
		t.Errorf("puts = %d", rec.Puts)
	}
	// A client with another secret sends another slug: 409.
	stranger := newClient(t, url, events.ProtocolPresto)
	if _, _, err := stranger.Dispatch(t.Context(), spec(id, "SELECT 1")); !errors.Is(err, coordinator.ErrAlreadyExists) {
		t.Errorf("other slug: %v, want ErrAlreadyExists", err)
	}
	if _, rows := follow(t, h.NextURI); rows != 1 {
		t.Errorf("rows = %d", rows)
	}
	// Once polled, even the same slug conflicts.
	_, _, err = cl.Dispatch(t.Context(), spec(id, "SELECT 1"))
	var ce *coordinator.Error
	if !errors.Is(err, coordinator.ErrAlreadyExists) || !errors.As(err, &ce) || ce.StatusCode != http.StatusConflict {
		t.Errorf("dispatch after a poll: %v", err)
	}
}

func TestDispatchImpersonation(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{
				Flavor:         f,
				BasicAuth:      map[string]string{"sluice": "s3cret", "bob": "pw"},
				CanImpersonate: func(principal, _ string) bool { return principal == "sluice" },
			})
			cl := newClient(t, url, f, coordinator.WithImpersonation("sluice", "s3cret"))
			// The user's own Authorization is not sent in impersonate mode.
			h, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00004_slc01", "SELECT 1"), coordinator.WithAuthorization("Bearer ignored"))
			if err != nil {
				t.Fatal(err)
			}
			rec, _ := co.Query(h.QueryID)
			if rec.Principal != "sluice" || rec.Spec.User != "alice" || !strings.HasPrefix(rec.Header.Get("Authorization"), "Basic ") {
				t.Errorf("record: principal %q user %q auth %q", rec.Principal, rec.Spec.User, rec.Header.Get("Authorization"))
			}
			// Control requests authenticate as the service user too.
			if f == events.ProtocolTrino {
				follow(t, h.NextURI)
				st, err := cl.Status(t.Context(), h.QueryID)
				if err != nil || st.State != coordinator.StateFinished || st.User != "alice" {
					t.Errorf("status = %+v, %v", st, err)
				}
			}
			// Wrong password: the coordinator refuses the query.
			bad := newClient(t, url, f, coordinator.WithImpersonation("sluice", "wrong"))
			_, _, err = bad.Dispatch(t.Context(), spec("20260821_101500_00005_slc01", "SELECT 1"))
			var ce *coordinator.Error
			if !errors.Is(err, coordinator.ErrQueryFailed) || !errors.As(err, &ce) || ce.StatusCode != http.StatusUnauthorized {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
}

func TestDispatchImpersonationDenied(t *testing.T) {
	t.Parallel()
	_, url := startCoordinator(t, testcoordinator.Options{
		BasicAuth:      map[string]string{"bob": "pw"},
		CanImpersonate: func(string, string) bool { return false },
	})
	cl := newClient(t, url, events.ProtocolTrino, coordinator.WithImpersonation("bob", "pw"), coordinator.WithSubmit(true))
	_, res, err := cl.Dispatch(t.Context(), spec("20260821_101500_00006_slc01", "SELECT 1"))
	var qe *protocol.QueryError
	if !errors.Is(err, coordinator.ErrQueryFailed) || !errors.As(err, &qe) || qe.ErrorName != "PERMISSION_DENIED" {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Error == nil || res.NextURI != "" {
		t.Errorf("results = %+v", res)
	}
}

func TestDispatchSubmitCatchesErrors(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{})
	cl := newClient(t, url, events.ProtocolTrino, coordinator.WithSubmit(true))

	h, res, err := cl.Dispatch(t.Context(), spec("20260821_101500_00007_slc01", "SELEC 1"))
	var qe *protocol.QueryError
	if !errors.Is(err, coordinator.ErrQueryFailed) || errors.Is(err, coordinator.ErrUnavailable) || !errors.As(err, &qe) {
		t.Fatalf("err = %v", err)
	}
	if qe.ErrorName != "SYNTAX_ERROR" || qe.ErrorCode != 1 || qe.ErrorLocation == nil || res.Error != qe || h.NextURI != "" {
		t.Errorf("query error %+v, handle %+v", qe, h)
	}

	// A good query is created on the coordinator before the client polls.
	h, _, err = cl.Dispatch(t.Context(), spec("20260821_101500_00008_slc01", "SELECT 1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := co.Query(h.QueryID); !rec.Submitted {
		t.Errorf("not submitted: %+v", rec)
	}
	if !strings.Contains(h.NextURI, "/v1/statement/executing/") {
		t.Errorf("nextUri after submit = %q", h.NextURI)
	}
	if _, rows := follow(t, h.NextURI); rows != 1 {
		t.Errorf("rows = %d", rows)
	}
}

func TestDispatchUnavailable(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f})
			cl := newClient(t, url, f)
			co.FailNext(1)
			_, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00009_slc01", "SELECT 1"))
			var ce *coordinator.Error
			if !errors.Is(err, coordinator.ErrUnavailable) || !errors.As(err, &ce) || ce.StatusCode != http.StatusServiceUnavailable || ce.Op != "dispatch" {
				t.Errorf("503: %v", err)
			}
			if n := len(co.Queries()); n != 0 {
				t.Errorf("%d queries registered", n)
			}
			// The same dispatch then succeeds: a 503 did not start anything.
			if _, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00009_slc01", "SELECT 1")); err != nil {
				t.Errorf("after 503: %v", err)
			}
		})
	}
}

func TestDispatchSubmitPollUnavailable(t *testing.T) {
	t.Parallel()
	co := testcoordinator.New(testcoordinator.Options{MaxWait: 5 * time.Millisecond})
	// The POST passes and its first poll gets 503.
	var failed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/queued/") && failed.CompareAndSwap(false, true) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		co.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(co.Close)
	cl := newClient(t, srv.URL, events.ProtocolTrino, coordinator.WithSubmit(true))
	h, res, err := cl.Dispatch(t.Context(), spec("20260821_101500_00010_slc01", "SELECT 1"))
	var ce *coordinator.Error
	if !errors.Is(err, coordinator.ErrUnavailable) || !errors.As(err, &ce) || ce.Op != "submit" || res != nil {
		t.Fatalf("err = %v, results %+v", err, res)
	}
	// The registered query was canceled through its queued URL, so a client that still
	// polls it gets USER_CANCELED instead of running it.
	deleted := false
	for _, r := range co.Requests() {
		deleted = deleted || (r.Method == http.MethodDelete && strings.Contains(r.Path, "/queued/"+h.QueryID+"/"))
	}
	if !deleted {
		t.Errorf("no DELETE of the queued URL: %+v", co.Requests())
	}
	last, _ := follow(t, h.NextURI)
	if last.Error == nil || last.Error.ErrorName != "USER_CANCELED" {
		t.Errorf("polling the abandoned query: %+v", last)
	}
}

func TestDispatchConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, f := range flavors {
		cl := newClient(t, "http://"+addr, f)
		_, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00011_slc01", "SELECT 1"))
		var ce *coordinator.Error
		if !errors.Is(err, coordinator.ErrUnavailable) || !errors.As(err, &ce) || ce.StatusCode != 0 || ce.Err == nil {
			t.Errorf("%s: %v", f, err)
		}
		if _, err := cl.Status(t.Context(), "x"); !errors.Is(err, coordinator.ErrUnavailable) {
			t.Errorf("%s status: %v", f, err)
		}
		if _, err := cl.Load(t.Context()); !errors.Is(err, coordinator.ErrUnavailable) {
			t.Errorf("%s load: %v", f, err)
		}
	}
}

func TestDispatchClassifiesAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"500", 500, "boom", coordinator.ErrUnavailable},
		{"502", 502, "", coordinator.ErrUnavailable},
		{"429", 429, "", coordinator.ErrUnavailable},
		{"307", 307, "", coordinator.ErrUnavailable},
		{"200 not json", 200, "<html>", coordinator.ErrUnavailable},
		{"200 without id", 200, `{"stats":{}}`, coordinator.ErrUnavailable},
		{"400", 400, "Invalid X-Trino-Session header", coordinator.ErrQueryFailed},
		{"401", 401, "Unauthorized", coordinator.ErrQueryFailed},
		{"404", 404, "", coordinator.ErrQueryFailed},
		{"409", 409, "Query already exists", coordinator.ErrAlreadyExists},
		{"200 with error", 200, `{"id":"q1","stats":{"state":"FAILED"},"error":{"message":"Query text too large","errorCode":35,"errorName":"QUERY_TEXT_TOO_LARGE","errorType":"USER_ERROR"}}`, coordinator.ErrQueryFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 307 {
					w.Header().Set("Location", "http://elsewhere.invalid/v1/statement")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			cl := newClient(t, srv.URL, events.ProtocolTrino)
			_, _, err := cl.Dispatch(t.Context(), spec("q1", "SELECT 1"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, other := range []error{coordinator.ErrUnavailable, coordinator.ErrQueryFailed, coordinator.ErrAlreadyExists} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("err %v is also %v", err, other)
				}
			}
			var qe *protocol.QueryError
			if tc.name == "200 with error" && (!errors.As(err, &qe) || qe.ErrorCode != 35) {
				t.Errorf("QueryError not reachable: %v", err)
			}
		})
	}
}

func TestDispatchInvalidSpec(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(500)
	}))
	t.Cleanup(srv.Close)
	trino := newClient(t, srv.URL, events.ProtocolTrino)
	presto := newClient(t, srv.URL, events.ProtocolPresto)
	bad := spec("q1", "SELECT 1")
	bad.ClientInfo = "two\nlines"
	cases := []struct {
		name string
		cl   *coordinator.Client
		spec events.QuerySpec
	}{
		{"no sql", trino, spec("q1", "")},
		{"no user", trino, events.QuerySpec{ID: "q1", SQL: "SELECT 1"}},
		{"control character", trino, bad},
		{"presto upper-case id", presto, spec("Q1", "SELECT 1")},
		{"presto empty id", presto, spec("", "SELECT 1")},
	}
	for _, tc := range cases {
		if _, _, err := tc.cl.Dispatch(t.Context(), tc.spec); !errors.Is(err, coordinator.ErrInvalidSpec) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests sent for invalid specs", n)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		url  string
		opts []coordinator.Option
	}{
		"no scheme":         {"coordinator:8080", nil},
		"ftp":               {"ftp://coordinator", nil},
		"path":              {"http://coordinator/trino", nil},
		"bad flavor":        {"http://c", []coordinator.Option{coordinator.WithFlavor("hive")}},
		"nil http client":   {"http://c", []coordinator.Option{coordinator.WithHTTPClient(nil)}},
		"no service user":   {"http://c", []coordinator.Option{coordinator.WithServiceUser("", "x")}},
		"colon in user":     {"http://c", []coordinator.Option{coordinator.WithImpersonation("a:b", "x")}},
		"short slug secret": {"http://c", []coordinator.Option{coordinator.WithSlugSecret([]byte("short"))}},
	}
	for name, tc := range cases {
		if _, err := coordinator.New(tc.url, tc.opts...); !errors.Is(err, coordinator.ErrInvalidOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	cl, err := coordinator.New("https://c:8443/", coordinator.WithFlavor(events.ProtocolPresto))
	if err != nil || cl.BaseURL() != "https://c:8443" || cl.Flavor() != events.ProtocolPresto {
		t.Errorf("New = %v, %v", cl, err)
	}
}
