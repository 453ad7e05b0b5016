package testcoordinator_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

func TestClusterStats(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f, MaxWait: time.Millisecond, ActiveWorkers: 3, Processors: 24})
			c.Script("SELECT run", testcoordinator.Result{Hold: true, PeakMemory: 1000})
			c.Script("SELECT stuck", testcoordinator.Result{Hold: true, Blocked: true, PeakMemory: 500})
			c.Script("SELECT wait", testcoordinator.Result{HoldQueued: true})
			c.Script("SELECT done", testcoordinator.Result{CPUTime: 3 * time.Second, Rows: [][]any{{1}, {2}}})
			for _, sql := range []string{"SELECT run", "SELECT run", "SELECT stuck", "SELECT wait", "SELECT done"} {
				get(t, submit(t, f, url, sql).NextURI)
			}
			submit(t, f, url, "SELECT run") // registered only: not counted

			status, _, b := call(t, http.MethodGet, url+"/v1/cluster", "")
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"runningQueries": 2.0, "blockedQueries": 1.0, "queuedQueries": 1.0, "activeWorkers": 3.0,
				"runningDrivers": 2.0, "reservedMemory": 2500.0, "totalInputRows": 2.0,
				"totalInputBytes": 9.0, "totalCpuTimeSecs": 3.0,
			}
			if f == events.ProtocolTrino {
				want["activeCoordinators"] = 1.0
				want["totalAvailableProcessors"] = 24.0
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("cluster stats\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestNoClusterStatsIs404(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{NoClusterStats: true})
	if status, _, _ := call(t, http.MethodGet, url+"/v1/cluster", ""); status != http.StatusNotFound {
		t.Errorf("status %d, want 404", status)
	}
}

func TestServerInfo(t *testing.T) {
	t.Parallel()
	clock := testcoordinator.NewManualClock(time.Unix(1000, 0))
	c, url := start(t, testcoordinator.Options{Flavor: events.ProtocolPresto, Environment: "prod", Clock: clock, Starting: true})
	clock.Advance(90 * time.Second)
	read := func() map[string]any {
		status, _, b := call(t, http.MethodGet, url+"/v1/info", "")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := map[string]any{
		"nodeVersion": map[string]any{"version": "0.293"}, "environment": "prod", "coordinator": true,
		"starting": true, "uptime": "1.50m",
	}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("info = %v, want %v", got, want)
	}
	// While starting, queries fail on submission.
	r := get(t, submit(t, events.ProtocolPresto, url, "SELECT 1").NextURI)
	if r.Error == nil || r.Error.ErrorName != "SERVER_STARTING_UP" || r.Error.ErrorType != "INTERNAL_ERROR" || r.Error.ErrorCode != 65548 {
		t.Errorf("query while starting = %+v", r)
	}
	c.SetStarting(false)
	if got := read(); got["starting"] != false {
		t.Errorf("starting = %v", got["starting"])
	}
	if _, rows, _ := drain(t, submit(t, events.ProtocolPresto, url, "SELECT 1")); len(rows) != 1 {
		t.Errorf("rows = %v", rows)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{Unavailable: true})
	for _, path := range []string{"/v1/info", "/v1/cluster", "/v1/query"} {
		if status, _, _ := call(t, http.MethodGet, url+path, "", "X-Trino-User", "a"); status != http.StatusServiceUnavailable {
			t.Errorf("%s: %d, want 503", path, status)
		}
	}
	c.SetUnavailable(false)
	c.FailNext(2)
	var statuses []int
	for range 3 {
		status, _, _ := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", "X-Trino-User", "a")
		statuses = append(statuses, status)
	}
	if !reflect.DeepEqual(statuses, []int{503, 503, 200}) {
		t.Errorf("statuses = %v", statuses)
	}
	if n := len(c.Queries()); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}
	reqs := c.Requests()
	if len(reqs) != 6 || reqs[3].Status != 503 || reqs[5].Status != 200 || reqs[5].Body != "SELECT 1" {
		t.Errorf("recorded requests = %+v", reqs)
	}
}

func TestUnknownPathIs404(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{})
	if status, _, b := call(t, http.MethodGet, url+"/v2/nothing", ""); status != 404 || string(b) != "Error 404 Not Found: HTTP 404 Not Found" {
		t.Errorf("%d %s", status, b)
	}
}

func TestWrongMethodIs405(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{})
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodHead, "/v1/statement", "POST"},
		{http.MethodGet, "/v1/statement", "POST"},
		{http.MethodPost, "/v1/query/x", "GET, DELETE"},
	} {
		status, hdr, _ := call(t, tc.method, url+tc.path, "")
		if status != http.StatusMethodNotAllowed || hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q", tc.method, tc.path, status, hdr.Get("Allow"))
		}
	}
}

// TestFailSubmissions: only statement submissions fail; load and info keep answering.
func TestFailSubmissions(t *testing.T) {
	t.Parallel()
	for _, flavor := range []events.Protocol{events.ProtocolTrino, events.ProtocolPresto} {
		c, url := start(t, testcoordinator.Options{Flavor: flavor})
		c.FailSubmissions(1)
		if status, _, _ := call(t, http.MethodGet, url+"/v1/info", ""); status != http.StatusOK {
			t.Errorf("%s: /v1/info while submissions fail: %d", flavor, status)
		}
		submit := func() int {
			if flavor == events.ProtocolPresto {
				status, _, _ := call(t, http.MethodPut, url+"/v1/statement/20261121_000000_00001_abcde?slug=x1", "SELECT 1", "X-Presto-User", "a")
				return status
			}
			status, _, _ := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", "X-Trino-User", "a")
			return status
		}
		if first, second := submit(), submit(); first != http.StatusServiceUnavailable || second != http.StatusOK {
			t.Errorf("%s: submissions answered %d, %d; want 503, 200", flavor, first, second)
		}
	}
}
