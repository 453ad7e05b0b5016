package coordinator_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
)

// busy puts two running queries, one blocked, one queued and one finished on co, plus one
// registered query nobody polled, through the client.
func busy(t *testing.T, co *testcoordinator.Coordinator, cl *coordinator.Client) {
	t.Helper()
	co.Script("SELECT run", testcoordinator.Result{Hold: true, PeakMemory: 1 << 20})
	co.Script("SELECT stuck", testcoordinator.Result{Hold: true, Blocked: true, PeakMemory: 1 << 10})
	co.Script("SELECT wait", testcoordinator.Result{HoldQueued: true})
	for i, sql := range []string{"SELECT run", "SELECT run", "SELECT stuck", "SELECT wait", "SELECT 1", "SELECT run"} {
		id := "20260821_101500_0003" + string(rune('0'+i)) + "_slc01"
		h, _, err := cl.Dispatch(t.Context(), spec(id, sql))
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			pollOnce(t, h.NextURI)
		}
	}
}

func TestLoadFromClusterStats(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			co, url := startCoordinator(t, testcoordinator.Options{Flavor: f, ActiveWorkers: 4, Version: "470", Environment: "prod"})
			cl := newClient(t, url, f)
			busy(t, co, cl)
			l, err := cl.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if l.Info.Version != "470" || l.Info.Environment != "prod" || !l.Info.Coordinator || l.Info.Starting {
				t.Errorf("info = %+v", l.Info)
			}
			l.Info = coordinator.Info{}
			want := coordinator.Load{Running: 2, Blocked: 1, Queued: 1, ActiveWorkers: 4, ReservedMemoryBytes: 2<<20 + 1<<10, Source: coordinator.LoadSourceClusterStats}
			if l != want {
				t.Errorf("load\n got %+v\nwant %+v", l, want)
			}
		})
	}
}

func TestLoadFallsBackToTheQueryList(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{NoClusterStats: true})
	cl := newClient(t, url, events.ProtocolTrino)
	busy(t, co, cl)
	l, err := cl.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if l.Info.Version != "476" {
		t.Errorf("info = %+v", l.Info)
	}
	l.Info = coordinator.Info{}
	want := coordinator.Load{Running: 2, Blocked: 1, Queued: 1, ActiveWorkers: -1, ReservedMemoryBytes: 2<<20 + 1<<10, Source: coordinator.LoadSourceQueryList}
	if l != want {
		t.Errorf("load\n got %+v\nwant %+v", l, want)
	}
	var paths []string
	for _, r := range co.Requests()[len(co.Requests())-3:] {
		paths = append(paths, r.Path)
	}
	if paths[0] != "/v1/info" || paths[1] != "/v1/cluster" || paths[2] != "/v1/query" {
		t.Errorf("load requests = %v", paths)
	}
}

func TestLoadCountsEngineStatesFromTheQueryList(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/info":
			_, _ = w.Write([]byte(`{"nodeVersion":{"version":"476"},"environment":"e","coordinator":true,"starting":true,"uptime":"2.00m"}`))
		case "/v1/query":
			_, _ = w.Write([]byte(`[
				{"queryId":"a","state":"WAITING_FOR_RESOURCES","queryStats":{}},
				{"queryId":"b","state":"PLANNING","queryStats":{"userMemoryReservation":"1kB"}},
				{"queryId":"c","state":"FINISHING","queryStats":{"userMemoryReservation":"2kB"}},
				{"queryId":"d","state":"RUNNING","queryStats":{"fullyBlocked":true,"userMemoryReservation":"bogus"}},
				{"queryId":"e","state":"FAILED","queryStats":{"userMemoryReservation":"1GB"}},
				{"queryId":"f","state":"WAITING_FOR_PREREQUISITES","queryStats":{}}]`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	l, err := newClient(t, srv.URL, events.ProtocolTrino).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := coordinator.Load{
		Info:    coordinator.Info{Version: "476", Environment: "e", Coordinator: true, Starting: true, Uptime: 2 * time.Minute},
		Running: 2, Blocked: 1, Queued: 2, ActiveWorkers: -1, ReservedMemoryBytes: 3 << 10, Source: coordinator.LoadSourceQueryList,
	}
	if l != want {
		t.Errorf("load\n got %+v\nwant %+v", l, want)
	}
}

func TestLoadOfASickCoordinator(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{Starting: true})
	cl := newClient(t, url, events.ProtocolTrino)
	l, err := cl.Load(t.Context())
	if err != nil || !l.Info.Starting {
		t.Errorf("starting: %+v, %v", l, err)
	}
	co.SetUnavailable(true)
	_, err = cl.Load(t.Context())
	var ce *coordinator.Error
	if !errors.Is(err, coordinator.ErrUnavailable) || !errors.As(err, &ce) || ce.StatusCode != 503 || ce.Op != "info" {
		t.Errorf("unavailable: %v", err)
	}
	if _, err := cl.Info(t.Context()); !errors.Is(err, coordinator.ErrUnavailable) {
		t.Errorf("info: %v", err)
	}
	co.SetUnavailable(false)
	co.FailNext(1) // the next request, /v1/info, fails
	if _, err := cl.Load(t.Context()); !errors.Is(err, coordinator.ErrUnavailable) {
		t.Errorf("one 503: %v", err)
	}
	if _, err := cl.Load(t.Context()); err != nil {
		t.Errorf("recovered: %v", err)
	}
}
