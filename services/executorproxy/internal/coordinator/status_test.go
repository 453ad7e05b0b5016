package coordinator_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
)

func TestStatusAfterFinish(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			clock := testcoordinator.NewManualClock(time.Date(2026, 8, 21, 10, 15, 0, 0, time.UTC))
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f, Clock: clock})
			co.Script("SELECT big", testcoordinator.Result{
				Duration: 3 * time.Minute, CPUTime: 1500 * time.Millisecond, PeakMemory: 10 << 20,
				Columns: []protocol.Column{{Name: "n", Type: "bigint"}}, Rows: [][]any{{1}, {2}, {3}},
			})
			cl := newClient(t, url, f)
			h, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00020_slc01", "SELECT big"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Status(t.Context(), h.QueryID); !errors.Is(err, coordinator.ErrNotFound) {
				t.Errorf("before the first poll: %v, want ErrNotFound", err)
			}
			// The client's first poll submits the query; it runs for 3 minutes on the clock.
			pollOnce(t, h.NextURI)
			st, err := cl.Status(t.Context(), h.QueryID)
			if err != nil || st.State != coordinator.StateRunning || st.Done || st.CPUTime != 0 {
				t.Fatalf("running: %+v, %v", st, err)
			}
			clock.Advance(3 * time.Minute)
			last, rows := follow(t, h.NextURI)
			if rows != 3 || last.Stats.State != "FINISHED" {
				t.Fatalf("rows %d, last %+v", rows, last)
			}
			st, err = cl.Status(t.Context(), h.QueryID)
			if err != nil {
				t.Fatal(err)
			}
			want := coordinator.Status{
				QueryID: h.QueryID, State: coordinator.StateFinished, Done: true, User: "alice",
				CreateTime: time.Date(2026, 8, 21, 10, 15, 0, 0, time.UTC),
				EndTime:    time.Date(2026, 8, 21, 10, 18, 0, 0, time.UTC),
				Elapsed:    3 * time.Minute, CPUTime: 1500 * time.Millisecond, PeakMemoryBytes: 10 << 20,
			}
			if st != want {
				t.Errorf("status\n got %+v\nwant %+v", st, want)
			}
		})
	}
}

// pollOnce GETs a nextUri once, as a client's first poll.
func pollOnce(t *testing.T, uri string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, uri, nil)
	req.Header.Set("X-Presto-User", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", uri, resp.StatusCode)
	}
}

func TestStatusOfAFailedQuery(t *testing.T) {
	t.Parallel()
	_, url := startCoordinator(t, testcoordinator.Options{})
	cl := newClient(t, url, events.ProtocolTrino, coordinator.WithSubmit(true))
	h, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00021_slc01", "SELECT 1 FROM\n nowhere"))
	if !errors.Is(err, coordinator.ErrQueryFailed) {
		t.Fatalf("err = %v", err)
	}
	st, err := cl.Status(t.Context(), h.QueryID)
	if err != nil {
		t.Fatal(err)
	}
	want := events.QueryErrorInfo{
		Message:   "line 1:10: mismatched input 'FROM'. Expecting: ',', <EOF>",
		ErrorCode: 1, ErrorName: "SYNTAX_ERROR", ErrorType: "USER_ERROR", Line: 1, Column: 10,
	}
	if st.State != coordinator.StateFailed || !st.Done || st.Error == nil || *st.Error != want {
		t.Errorf("status = %+v, error %+v", st, st.Error)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f})
			co.Script("SELECT slow", testcoordinator.Result{Hold: true})
			cl := newClient(t, url, f)
			h, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00022_slc01", "SELECT slow"))
			if err != nil {
				t.Fatal(err)
			}
			pollOnce(t, h.NextURI)
			if err := cl.Cancel(t.Context(), h.QueryID); err != nil {
				t.Fatal(err)
			}
			st, err := cl.Status(t.Context(), h.QueryID)
			if err != nil || st.State != coordinator.StateFailed || st.Error == nil || st.Error.ErrorName != "USER_CANCELED" || st.Error.ErrorCode != 3 {
				t.Errorf("status after cancel = %+v (%+v), %v", st, st.Error, err)
			}
			// Canceling again, or an unknown query, is not an error on the engines (204).
			if err := cl.Cancel(t.Context(), h.QueryID); err != nil {
				t.Errorf("second cancel: %v", err)
			}
			if err := cl.Cancel(t.Context(), "20260101_000000_00000_nope1"); err != nil {
				t.Errorf("unknown: %v", err)
			}
		})
	}
}

func TestCancelHandleBeforeTheFirstPoll(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f})
			cl := newClient(t, url, f)
			h, _, err := cl.Dispatch(t.Context(), spec("20260821_101500_00023_slc01", "SELECT 1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.CancelHandle(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			// The client's first poll now ends the query with USER_CANCELED instead of running it.
			last, rows := follow(t, h.NextURI)
			if rows != 0 || last.Error == nil || last.Error.ErrorName != "USER_CANCELED" {
				t.Errorf("poll after CancelHandle: rows %d, %+v", rows, last)
			}
			if rec, _ := co.Query(h.QueryID); rec.State != "FAILED" {
				t.Errorf("record = %+v", rec)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		body   string
		want   error
	}{
		{410, "", coordinator.ErrNotFound},
		{404, "", coordinator.ErrNotFound},
		{403, "", coordinator.ErrRejected},
		{401, "", coordinator.ErrRejected},
		{503, "", coordinator.ErrUnavailable},
		{200, "{", coordinator.ErrUnavailable},
		{200, `{"state":"RUNNING"}`, coordinator.ErrUnavailable},
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Trino-User") != "svc" {
				t.Errorf("control request without the service user: %v", r.Header)
			}
			if u, p, ok := r.BasicAuth(); !ok || u != "svc" || p != "pw" {
				t.Errorf("control request without the service password: %v", r.Header)
			}
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		}))
		cl := newClient(t, srv.URL, events.ProtocolTrino, coordinator.WithServiceUser("svc", "pw"))
		_, err := cl.Status(t.Context(), "q1")
		if !errors.Is(err, tc.want) {
			t.Errorf("%d %q: %v, want %v", tc.status, tc.body, err, tc.want)
		}
		srv.Close()
	}
}

func TestStatusToleratesOddStats(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"queryId":"q1","state":"FINISHING","session":{"user":"u"},
			"queryStats":{"createTime":"yesterday","elapsedTime":"forever","totalCpuTime":"2.00h",
			"peakUserMemoryReservation":"1.5GB","userMemoryReservation":"512MB","fullyBlocked":true},"unknownField":[1,2]}`))
	}))
	t.Cleanup(srv.Close)
	st, err := newClient(t, srv.URL, events.ProtocolTrino).Status(t.Context(), "q1")
	if err != nil {
		t.Fatal(err)
	}
	want := coordinator.Status{QueryID: "q1", State: coordinator.StateFinishing, User: "u", CPUTime: 2 * time.Hour, PeakMemoryBytes: 3 << 29,
		MemoryBytes: 512 << 20, FullyBlocked: true}
	if st != want {
		t.Errorf("status\n got %+v\nwant %+v", st, want)
	}
}
