package testcoordinator_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

func TestLongPollWakesOnRelease(t *testing.T) {
	t.Parallel()
	c, url := start(t, testcoordinator.Options{MaxWait: time.Hour})
	c.Script("SELECT slow", testcoordinator.Result{Hold: true, Rows: [][]any{{1}}, Columns: []protocol.Column{{Name: "x", Type: "integer"}}})
	first := submit(t, events.ProtocolTrino, url, "SELECT slow")
	exec0 := get(t, first.NextURI).NextURI
	done := make(chan protocol.QueryResults, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, exec0, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(done)
			return
		}
		defer resp.Body.Close()
		var r protocol.QueryResults
		_ = jsonDecode(resp, &r)
		done <- r
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Release only once the poll is waiting, so the test shows it is woken.
	for {
		if n := countRequests(c, exec0); n == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the poll never arrived")
		case <-time.After(time.Millisecond):
		}
	}
	if err := c.Release(first.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Stats.State != "FINISHED" || len(r.Data) != 1 {
			t.Errorf("woken page = %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("the long poll did not wake on Release")
	}
	if err := c.Release(first.ID); err != testcoordinator.ErrNotHeld {
		t.Errorf("second Release = %v, want ErrNotHeld", err)
	}
	if err := c.Release("nope"); err != testcoordinator.ErrUnknownQuery {
		t.Errorf("Release(unknown) = %v", err)
	}
}

// countRequests counts the recorded requests whose path and query make up uri.
func countRequests(c *testcoordinator.Coordinator, uri string) int {
	n := 0
	for _, r := range c.Requests() {
		p := r.Path
		if r.RawQuery != "" {
			p += "?" + r.RawQuery
		}
		if strings.HasSuffix(uri, p) {
			n++
		}
	}
	return n
}

func TestHoldQueued(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f, MaxWait: time.Millisecond})
			c.Script("SELECT q", testcoordinator.Result{HoldQueued: true, Hold: true})
			first := submit(t, f, url, "SELECT q")
			r := get(t, first.NextURI)
			m := queuedURIByFlav[f].FindStringSubmatch(r.NextURI)
			if r.Stats.State != "QUEUED" || !r.Stats.Queued || m == nil || m[2] != "2" {
				t.Fatalf("held queued poll = %+v", r)
			}
			if rec, _ := c.Query(first.ID); rec.State != "QUEUED" || !rec.Submitted {
				t.Errorf("record = %+v", rec)
			}
			if err := c.Release(first.ID); err != nil {
				t.Fatal(err)
			}
			r = get(t, r.NextURI)
			if !execURIByFlav[f].MatchString(r.NextURI) {
				t.Errorf("after release the queued poll must hand over: %+v", r)
			}
			if rec, _ := c.Query(first.ID); rec.State != "RUNNING" {
				t.Errorf("after the first release: %s", rec.State)
			}
			if err := c.Release(first.ID); err != nil {
				t.Fatal(err)
			}
			if rec, _ := c.Query(first.ID); rec.State != "FINISHED" {
				t.Errorf("after the second release: %s", rec.State)
			}
		})
	}
}

func TestDurationOnManualClock(t *testing.T) {
	t.Parallel()
	clock := testcoordinator.NewManualClock(time.Date(2026, 8, 21, 10, 15, 0, 0, time.UTC))
	c, url := start(t, testcoordinator.Options{Clock: clock, MaxWait: time.Millisecond})
	c.Script("SELECT slow", testcoordinator.Result{Duration: 5 * time.Second, CPUTime: 1500 * time.Millisecond, PeakMemory: 10 << 20})
	first := submit(t, events.ProtocolTrino, url, "SELECT slow")
	if !strings.HasPrefix(first.ID, "20260821_101500_") {
		t.Errorf("id %q does not carry the clock's time", first.ID)
	}
	page := get(t, get(t, first.NextURI).NextURI)
	if page.Stats.State != "RUNNING" {
		t.Fatalf("before the duration: %+v", page)
	}
	clock.Advance(4 * time.Second)
	page = get(t, page.NextURI)
	if page.Stats.State != "RUNNING" || page.Stats.ElapsedTimeMillis != 4000 {
		t.Fatalf("after 4s: %+v", page.Stats)
	}
	clock.Advance(2 * time.Second)
	_, _, last := drain(t, page)
	if last.Stats.State != "FINISHED" || last.Stats.CPUTimeMillis != 1500 || last.Stats.PeakMemoryBytes != 10<<20 {
		t.Errorf("final stats = %+v", last.Stats)
	}
	_, info := queryInfo(t, events.ProtocolTrino, url, first.ID)
	for k, want := range map[string]string{
		"elapsedTime": "5.00s", "executionTime": "5.00s", "totalCpuTime": "1.50s", "peakUserMemoryReservation": "10MB",
		"createTime": "2026-08-21T10:15:00.000Z", "endTime": "2026-08-21T10:15:05.000Z", "userMemoryReservation": "0B",
	} {
		if got := field(info, "queryStats", k); got != want {
			t.Errorf("queryStats.%s = %v, want %s", k, got, want)
		}
	}
}

func TestFormatDurationThroughInfo(t *testing.T) {
	t.Parallel()
	clock := testcoordinator.NewManualClock(time.Unix(0, 0))
	_, url := start(t, testcoordinator.Options{Clock: clock})
	for _, tc := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "0.00ns"}, {250 * time.Millisecond, "250.00ms"}, {1250 * time.Millisecond, "1.50s"},
		{178500 * time.Millisecond, "3.00m"}, {2 * time.Hour, "2.05h"}, {22 * time.Hour, "1.00d"},
	} {
		clock.Advance(tc.advance)
		status, _, b := call(t, http.MethodGet, url+"/v1/info", "")
		if status != 200 || !bytes.Contains(b, []byte(`"uptime":"`+tc.want+`"`)) {
			t.Errorf("after +%v: %s, want uptime %s", tc.advance, b, tc.want)
		}
	}
}
