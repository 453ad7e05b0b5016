package testcoordinator_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

func TestQueryInfoOfAFinishedQuery(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f})
			c.Script("SELECT x FROM t", testcoordinator.Result{
				Columns: []protocol.Column{{Name: "x", Type: "integer"}}, Rows: [][]any{{1}, {2}},
				CPUTime: 90 * time.Second, PeakMemory: 3 << 29,
			})
			p := prefix(f)
			first := submit(t, f, url, "SELECT x FROM t", p+"Source", "cli", p+"Catalog", "tpch", p+"Schema", "tiny",
				p+"Session", "query_max_run_time=1h", p+"Session", "hive.insert_existing_partitions_behavior=OVERWRITE",
				p+"Client-Tags", "etl,nightly", p+"Client-Info", "job 7", p+"Trace-Token", "trace-1",
				p+"Time-Zone", "Europe/Warsaw", p+"Language", "en-US", p+"Resource-Estimate", "EXECUTION_TIME=10m",
				p+"Resource-Estimate", "PEAK_MEMORY=1GB", p+"Role", "hive=ROLE%7Badmin%7D")
			if status, _ := queryInfo(t, f, url, first.ID); status != http.StatusGone {
				t.Errorf("before the first poll: %d, want 410", status)
			}
			drain(t, first)
			status, info := queryInfo(t, f, url, first.ID)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			checks := map[string]any{
				"queryId": first.ID, "state": "FINISHED", "query": "SELECT x FROM t", "queryType": "SELECT",
				"self": url + "/v1/query/" + first.ID, "finalQueryInfo": true, "scheduled": true,
			}
			for k, want := range checks {
				if got := field(info, k); got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			session := map[string]any{
				"user": "alice", "source": "cli", "catalog": "tpch", "schema": "tiny", "clientInfo": "job 7",
				"traceToken": "trace-1", "timeZone": "Europe/Warsaw", "locale": "en_US", "protocolName": string(f),
			}
			for k, want := range session {
				if got := field(info, "session", k); got != want {
					t.Errorf("session.%s = %v, want %v", k, got, want)
				}
			}
			if got := field(info, "session", "systemProperties"); !reflect.DeepEqual(got, map[string]any{"query_max_run_time": "1h"}) {
				t.Errorf("systemProperties = %v", got)
			}
			if got := field(info, "session", "catalogProperties", "hive", "insert_existing_partitions_behavior"); got != "OVERWRITE" {
				t.Errorf("catalogProperties = %v", field(info, "session", "catalogProperties"))
			}
			if got := field(info, "session", "clientTags"); !reflect.DeepEqual(got, []any{"etl", "nightly"}) {
				t.Errorf("clientTags = %v", got)
			}
			if got := field(info, "session", "resourceEstimates"); !reflect.DeepEqual(got, map[string]any{"executionTime": "10.00m", "peakMemoryBytes": float64(1 << 30)}) {
				t.Errorf("resourceEstimates = %v", got)
			}
			if got := field(info, "session", "catalogRoles", "hive"); !reflect.DeepEqual(got, map[string]any{"type": "ROLE", "role": "admin"}) {
				t.Errorf("catalogRoles = %v", field(info, "session", "catalogRoles"))
			}
			if got := field(info, "fieldNames"); !reflect.DeepEqual(got, []any{"x"}) {
				t.Errorf("fieldNames = %v", got)
			}
			stats := map[string]any{
				"totalCpuTime": "1.50m", "peakUserMemoryReservation": "1.50GB", "userMemoryReservation": "0B",
				"rawInputPositions": float64(2), "outputPositions": float64(2), "fullyBlocked": false, "completedDrivers": float64(1),
			}
			for k, want := range stats {
				if got := field(info, "queryStats", k); got != want {
					t.Errorf("queryStats.%s = %v, want %v", k, got, want)
				}
			}
			for _, k := range []string{"createTime", "endTime", "elapsedTime", "queuedTime", "executionStartTime"} {
				if s, _ := field(info, "queryStats", k).(string); s == "" {
					t.Errorf("queryStats.%s missing", k)
				}
			}
			if _, ok := info["errorCode"]; ok {
				t.Errorf("a finished query has an errorCode: %v", info["errorCode"])
			}
		})
	}
}

func TestQueryInfoUnknownIsGone(t *testing.T) {
	t.Parallel()
	_, url := start(t, testcoordinator.Options{})
	if status, _ := queryInfo(t, events.ProtocolTrino, url, "20260101_000000_00000_nope1"); status != http.StatusGone {
		t.Errorf("status %d, want 410", status)
	}
	if status, hdr, _ := call(t, http.MethodGet, url+"/v1/query/x", ""); status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("without a user: %d", status)
	}
}

func TestCancelPaths(t *testing.T) {
	t.Parallel()
	type tc struct {
		name string
		// cancel cancels the query given its first results and the handed-over page.
		cancel func(t *testing.T, url string, first, handoff protocol.QueryResults) int
	}
	cases := []tc{
		{"DELETE nextUri", func(t *testing.T, _ string, _, handoff protocol.QueryResults) int {
			status, _, _ := call(t, http.MethodDelete, handoff.NextURI, "")
			return status
		}},
		{"DELETE /v1/query", func(t *testing.T, url string, first, _ protocol.QueryResults) int {
			status, _, _ := call(t, http.MethodDelete, url+"/v1/query/"+first.ID, "", "X-Trino-User", "alice", "X-Presto-User", "alice")
			return status
		}},
	}
	for _, f := range flavors {
		for _, c := range cases {
			t.Run(string(f)+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				co, url := start(t, testcoordinator.Options{Flavor: f, MaxWait: time.Millisecond})
				co.Script("SELECT slow", testcoordinator.Result{Hold: true})
				first := submit(t, f, url, "SELECT slow")
				handoff := get(t, first.NextURI)
				if status := c.cancel(t, url, first, handoff); status != http.StatusNoContent {
					t.Fatalf("cancel: status %d, want 204", status)
				}
				_, _, last := drain(t, handoff)
				e := last.Error
				if e == nil || e.ErrorName != "USER_CANCELED" || e.ErrorCode != 3 || e.ErrorType != "USER_ERROR" || e.Message != "Query was canceled" {
					t.Errorf("final page after cancel = %+v", last)
				}
				if last.Stats.State != "FAILED" {
					t.Errorf("state %q", last.Stats.State)
				}
				_, info := queryInfo(t, f, url, first.ID)
				if field(info, "state") != "FAILED" || field(info, "errorCode", "name") != "USER_CANCELED" || field(info, "errorCode", "code") != float64(3) {
					t.Errorf("query info = %v / %v", field(info, "state"), field(info, "errorCode"))
				}
				if s, _ := field(info, "failureInfo", "message").(string); s != "Query was canceled" {
					t.Errorf("failureInfo.message = %q", s)
				}
			})
		}
	}
}

func TestCancelBeforeSubmission(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{})
	// DELETE /v1/query/{id} of a query nobody polled is lost, as on Trino.
	lost := submit(t, events.ProtocolTrino, url, "SELECT 1")
	if status, _, _ := call(t, http.MethodDelete, url+"/v1/query/"+lost.ID, "", "X-Trino-User", "alice"); status != http.StatusNoContent {
		t.Errorf("status %d", status)
	}
	if _, rows, last := drain(t, lost); len(rows) != 1 || last.Stats.State != "FINISHED" {
		t.Errorf("a query canceled before submission through /v1/query must still run: %v %+v", rows, last)
	}
	// DELETE on the queued URL takes effect when the query is submitted.
	pending := submit(t, events.ProtocolTrino, url, "SELECT 1")
	if status, _, _ := call(t, http.MethodDelete, pending.NextURI, ""); status != http.StatusNoContent {
		t.Errorf("status %d", status)
	}
	r := get(t, pending.NextURI)
	if r.Error == nil || r.Error.ErrorName != "USER_CANCELED" || r.NextURI != "" {
		t.Errorf("queued poll after cancel = %+v", r)
	}
	if rec, _ := c.Query(pending.ID); rec.State != "FAILED" {
		t.Errorf("record = %+v", rec)
	}
	// DELETE of an unknown query is 204 too.
	if status, _, _ := call(t, http.MethodDelete, url+"/v1/query/unknown_1", "", "X-Trino-User", "alice"); status != http.StatusNoContent {
		t.Errorf("unknown: %d", status)
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{})
	c.Script("SELECT slow", testcoordinator.Result{Hold: true})
	first := submit(t, events.ProtocolTrino, url, "SELECT slow")
	get(t, first.NextURI)
	kill := func(id string) int {
		status, _, _ := call(t, http.MethodPut, url+"/v1/query/"+id+"/killed", "too big", "X-Trino-User", "admin")
		return status
	}
	if s := kill(first.ID); s != http.StatusAccepted {
		t.Errorf("kill: %d", s)
	}
	if s := kill(first.ID); s != http.StatusConflict {
		t.Errorf("kill again: %d", s)
	}
	if s := kill("nope"); s != http.StatusGone {
		t.Errorf("kill unknown: %d", s)
	}
	rec, _ := c.Query(first.ID)
	if rec.Error == nil || rec.Error.ErrorName != "ADMINISTRATIVELY_KILLED" || rec.Error.Message != "Query killed. Message: too big" {
		t.Errorf("record = %+v", rec.Error)
	}
}

func TestQueryList(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{MaxWait: time.Millisecond})
	c.Script("SELECT run", testcoordinator.Result{Hold: true})
	c.Script("SELECT wait", testcoordinator.Result{HoldQueued: true})
	running := submit(t, events.ProtocolTrino, url, "SELECT run")
	get(t, running.NextURI)
	queued := submit(t, events.ProtocolTrino, url, "SELECT wait")
	get(t, queued.NextURI)
	done := submit(t, events.ProtocolTrino, url, "SELECT 1")
	drain(t, done)
	submit(t, events.ProtocolTrino, url, "SELECT 2") // never polled: not listed

	list := func(query string) map[string]string {
		status, _, b := call(t, http.MethodGet, url+"/v1/query"+query, "", "X-Trino-User", "admin")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		var infos []map[string]any
		if err := json.Unmarshal(b, &infos); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, in := range infos {
			if field(in, "session", "user") != "alice" || field(in, "queryStats", "createTime") == nil {
				t.Errorf("basic query info = %v", in)
			}
			out[in["queryId"].(string)] = in["state"].(string)
		}
		return out
	}
	want := map[string]string{running.ID: "RUNNING", queued.ID: "QUEUED", done.ID: "FINISHED"}
	if got := list(""); !reflect.DeepEqual(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if got := list("?state=running"); !reflect.DeepEqual(got, map[string]string{running.ID: "RUNNING"}) {
		t.Errorf("running = %v", got)
	}
}
