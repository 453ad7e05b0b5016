package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
	"github.com/trinodb/trino-go-client/trino"
)

// These tests put Sluice in front of pkg/testcoordinator, a protocol-faithful Trino or
// Presto coordinator (its package doc lists where it differs from a real one), with no local
// DuckDB cluster: every query goes through the executor-proxy's coordinator backend.

// upWithCoordinators runs Sluice whose only clusters are the coordinators given as
// SLUICE_COORDINATORS, and returns its URL and a JetStream handle on its NATS server.
func upWithCoordinators(t *testing.T, coordinators string, mutate func(*cli.UpConfig)) (string, jetstream.JetStream) {
	t.Helper()
	port := freePort(t)
	url := upInProcess(t, func(c *cli.UpConfig) {
		c.Clusters = 0
		c.Coordinators = coordinators
		c.NatsListen = fmt.Sprintf("127.0.0.1:%d", port)
		if mutate != nil {
			mutate(c)
		}
	})
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return url, js
}

// startTestCoordinator starts a test coordinator until the test ends.
func startTestCoordinator(t *testing.T, opts testcoordinator.Options) (*testcoordinator.Coordinator, string) {
	t.Helper()
	if opts.MaxWait == 0 {
		opts.MaxWait = time.Second
	}
	co := testcoordinator.New(opts)
	url, stop := co.Start()
	t.Cleanup(stop)
	return co, url
}

// sluiceInfo is the part of Sluice's GET /v1/query/{id} these tests read.
type sluiceInfo struct {
	QueryID        string               `json:"queryId"`
	State          string               `json:"state"`
	Cluster        string               `json:"cluster"`
	Attempts       int                  `json:"attempts"`
	EngineQueryID  string               `json:"engineQueryId"`
	DispatchErrors []string             `json:"dispatchErrors"`
	FailureInfo    *protocol.QueryError `json:"failureInfo"`
}

func getSluiceInfo(t *testing.T, url, id string) sluiceInfo {
	t.Helper()
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "admin"}}
	code, body := c.do(http.MethodGet, url+"/v1/query/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/query/%s: HTTP %d %s", id, code, body)
	}
	var info sluiceInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("GET /v1/query/%s: %v in %s", id, err, body)
	}
	return info
}

// endedEvent returns the terminal event of a query from the log.
func endedEvent(t *testing.T, js jetstream.JetStream, id string) (string, events.QueryEnded) {
	t.Helper()
	var subject string
	var ended events.QueryEnded
	natstest.Eventually(t, 10*time.Second, "terminal event of "+id, func() bool {
		eachEvent(t, js, events.TerminalSubjects, func(m jetstream.Msg) bool {
			var p events.QueryEnded
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeForSubject[m.Subject()], &p); err == nil && p.QueryID == id {
				subject, ended = m.Subject(), p
				return false
			}
			return true
		})
		return subject != ""
	})
	return subject, ended
}

// TestCoordinatorBackends runs queries with trino-go-client through Sluice to a Trino and to
// a Presto coordinator: the session reaches the coordinator, the client is handed over to
// the coordinator's nextUri and reads its rows there, the coordinator's CPU time and peak
// memory end up in the terminal event (which the resource groups charge), and cancel by
// DELETE /v1/query/{id} on Sluice stops the query on the coordinator.
func TestCoordinatorBackends(t *testing.T) {
	for _, flavor := range []events.Protocol{events.ProtocolTrino, events.ProtocolPresto} {
		t.Run(string(flavor), func(t *testing.T) {
			co, coURL := startTestCoordinator(t, testcoordinator.Options{Flavor: flavor})
			url, js := upWithCoordinators(t, "c1="+string(flavor)+":"+coURL, nil)

			cfg := trino.Config{ServerURI: strings.Replace(url, "http://", "http://alice@", 1), Source: "e2e-go", Catalog: "tpch", Schema: "tiny",
				SessionProperties: map[string]string{"query_max_run_time": "1h"}, ClientTags: []string{"etl"}}
			dsn, err := cfg.FormatDSN()
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("trino", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })

			t.Run("session, hand-over and rows", func(t *testing.T) {
				var answer int
				var x string
				if err := db.QueryRowContext(t.Context(), "SELECT 42 AS answer, 'x'").Scan(&answer, &x); err != nil {
					t.Fatal(err)
				}
				if answer != 42 || x != "x" {
					t.Fatalf("row = %d, %q", answer, x)
				}
				recs := co.Queries()
				if len(recs) != 1 {
					t.Fatalf("coordinator saw %d queries, want 1", len(recs))
				}
				rec := recs[0]
				s := rec.Spec
				if s.User != "alice" || s.Source != "e2e-go" || s.Catalog != "tpch" || s.Schema != "tiny" ||
					!reflect.DeepEqual(s.Session, map[string]string{"query_max_run_time": "1h"}) || !reflect.DeepEqual(s.ClientTags, []string{"etl"}) {
					t.Errorf("session at the coordinator = %+v", s)
				}
				if rec.State != testcoordinator.StateFinished || rec.RowsSent != 1 {
					t.Errorf("coordinator record = %+v", rec)
				}
				wantMethod := map[events.Protocol]string{events.ProtocolTrino: http.MethodPost, events.ProtocolPresto: http.MethodPut}[flavor]
				if rec.Method != wantMethod {
					t.Errorf("dispatched with %s, want %s", rec.Method, wantMethod)
				}
				// Sluice answers for the query under the coordinator's ID too (Trino assigns
				// its own; Presto keeps Sluice's).
				var info sluiceInfo
				natstest.Eventually(t, 10*time.Second, "Sluice sees the query finished", func() bool {
					info = getSluiceInfo(t, url, rec.ID)
					return info.State == "FINISHED"
				})
				if info.Cluster != "c1" {
					t.Errorf("cluster = %q, want c1", info.Cluster)
				}
				switch flavor {
				case events.ProtocolTrino:
					if info.EngineQueryID != rec.ID || info.QueryID == rec.ID {
						t.Errorf("Trino: Sluice ID %s, engine ID %s; the coordinator's is %s", info.QueryID, info.EngineQueryID, rec.ID)
					}
					if again := getSluiceInfo(t, url, info.QueryID); again.QueryID != info.QueryID || again.State != "FINISHED" {
						t.Errorf("GET /v1/query/{sluiceId} = %+v", again)
					}
				case events.ProtocolPresto:
					if info.QueryID != rec.ID || info.EngineQueryID != "" {
						t.Errorf("Presto: the coordinator's ID %s must be Sluice's %s", rec.ID, info.QueryID)
					}
				}
			})

			t.Run("resource use is reported", func(t *testing.T) {
				co.Script("SELECT heavy", testcoordinator.Result{Columns: []protocol.Column{{Name: "n", Type: "bigint"}}, Rows: [][]any{{7}},
					CPUTime: 1500 * time.Millisecond, PeakMemory: 64 << 20})
				var n int
				if err := db.QueryRowContext(t.Context(), "SELECT heavy").Scan(&n); err != nil || n != 7 {
					t.Fatalf("SELECT heavy = %d, %v", n, err)
				}
				recs := co.Queries()
				info := getSluiceInfo(t, url, recs[len(recs)-1].ID)
				subject, ended := endedEvent(t, js, info.QueryID)
				if subject != events.SubjectFinished || ended.CPUTimeMillis != 1500 || ended.PeakMemoryBytes != 64<<20 || ended.Cluster != "c1" {
					t.Errorf("terminal event %s %+v; want finished with 1500 ms CPU and 64 MiB", subject, ended)
				}
			})

			t.Run("a failing query fails with the engine's error", func(t *testing.T) {
				_, err := db.QueryContext(t.Context(), "SELEC 1")
				if name := trinoErrorName(err); name != "SYNTAX_ERROR" {
					t.Fatalf("SELEC 1: %v (%q), want SYNTAX_ERROR", err, name)
				}
			})

			t.Run("cancel by DELETE /v1/query/{id}", func(t *testing.T) {
				co.Script("SELECT slow", testcoordinator.Result{Columns: []protocol.Column{{Name: "n", Type: "bigint"}}, Rows: [][]any{{1}}, Hold: true})
				errc := make(chan error, 1)
				go func() {
					var n int
					errc <- db.QueryRowContext(context.Background(), "SELECT slow").Scan(&n)
				}()
				var rec testcoordinator.QueryRecord
				natstest.Eventually(t, 15*time.Second, "slow query running on the coordinator", func() bool {
					for _, r := range co.Queries() {
						if r.SQL == "SELECT slow" && r.State == testcoordinator.StateRunning {
							rec = r
							return true
						}
					}
					return false
				})
				info := getSluiceInfo(t, url, rec.ID)
				c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice"}}
				if code, body := c.do(http.MethodDelete, url+"/v1/query/"+info.QueryID, ""); code != http.StatusNoContent {
					t.Fatalf("DELETE /v1/query/%s: HTTP %d %s", info.QueryID, code, body)
				}
				select {
				case err := <-errc:
					if name := trinoErrorName(err); name != protocol.UserCanceled.Name {
						t.Errorf("client after cancel: %v (%q), want USER_CANCELED", err, name)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the client did not see the cancel within 20s")
				}
				if got, _ := co.Query(rec.ID); got.State != testcoordinator.StateFailed || got.Error == nil || got.Error.ErrorName != "USER_CANCELED" {
					t.Errorf("coordinator record after cancel = %+v", got)
				}
				subject, _ := endedEvent(t, js, info.QueryID)
				if subject != events.SubjectCanceled {
					t.Errorf("terminal event %s, want canceled", subject)
				}
				assertQueryState(t, url, info.QueryID, "CANCELED")
			})
		})
	}
}

// trinoErrorName is the engine's error name in an error of trino-go-client ("" if none).
func trinoErrorName(err error) string {
	var te *trino.ErrTrino
	if errors.As(err, &te) {
		return te.ErrorName
	}
	return ""
}

// TestCoordinatorCredentials: forwarded credentials reach the coordinator as the client
// sent them, sealed in the log; impersonation authenticates as Sluice's user and runs the
// query as the client's.
func TestCoordinatorCredentials(t *testing.T) {
	auth := map[string]string{"alice": "alice-pw", "sluice": "svc-pw"}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Run("forward", func(t *testing.T) {
		co, coURL := startTestCoordinator(t, testcoordinator.Options{BasicAuth: auth})
		url, js := upWithCoordinators(t, "c1=trino:"+coURL, func(c *cli.UpConfig) {
			c.CredentialsKey = base64.StdEncoding.EncodeToString(key)
			c.CoordUser, c.CoordPassword = "sluice", "svc-pw"
		})
		header := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-pw"))
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice", "Authorization": header}}
		pages := c.run("SELECT 1")
		if last := pages[len(pages)-1]; last.Error != nil {
			t.Fatalf("query failed: %+v", last.Error)
		}
		recs := co.Queries()
		if len(recs) != 1 || recs[0].Principal != "alice" || recs[0].Header.Get("Authorization") != header {
			t.Fatalf("coordinator records = %+v", recs)
		}
		secret := base64.StdEncoding.EncodeToString([]byte("alice:alice-pw"))
		eachEvent(t, js, nil, func(m jetstream.Msg) bool {
			if strings.Contains(string(m.Data()), secret) || strings.Contains(string(m.Data()), "alice-pw") {
				t.Errorf("the client's credentials are readable in the log (%s)", m.Subject())
			}
			return true
		})
	})
	t.Run("impersonate", func(t *testing.T) {
		co, coURL := startTestCoordinator(t, testcoordinator.Options{BasicAuth: auth,
			CanImpersonate: func(principal, user string) bool { return principal == "sluice" }})
		url, _ := upWithCoordinators(t, "c1=trino:"+coURL, func(c *cli.UpConfig) {
			c.Credentials, c.CoordUser, c.CoordPassword = "impersonate", "sluice", "svc-pw"
		})
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice"}}
		pages := c.run("SELECT 1")
		if last := pages[len(pages)-1]; last.Error != nil {
			t.Fatalf("query failed: %+v", last.Error)
		}
		recs := co.Queries()
		if len(recs) != 1 || recs[0].Principal != "sluice" || recs[0].Spec.User != "alice" {
			t.Fatalf("coordinator records = %+v", recs)
		}
	})
}

// TestRetryElsewhere: a dispatch that fails before the query started (503 from the
// coordinator) is placed again on another cluster, and the attempts show in the query's
// events and status; after SLUICE_DISPATCH_ATTEMPTS failures the query fails with
// SLUICE_DISPATCH_FAILED naming each one.
func TestRetryElsewhere(t *testing.T) {
	a, aURL := startTestCoordinator(t, testcoordinator.Options{CoordinatorID: "aaaaa"})
	b, bURL := startTestCoordinator(t, testcoordinator.Options{CoordinatorID: "bbbbb"})
	url, js := upWithCoordinators(t, "a="+"trino:"+aURL+",b=trino:"+bURL, func(c *cli.UpConfig) { c.Dispatches = 3 })
	natstest.Eventually(t, 15*time.Second, "both clusters ready", func() bool {
		c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "admin"}}
		_, body := c.do(http.MethodGet, url+"/v1/clusters", "")
		return strings.Count(string(body), `"ready"`) == 2
	})
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice"}}

	t.Run("placed again until a dispatch succeeds", func(t *testing.T) {
		// Each cluster refuses its next submission: the first attempt fails wherever it
		// lands, the second goes to the other cluster and fails too, the third succeeds.
		a.FailSubmissions(1)
		b.FailSubmissions(1)
		first := c.results(http.MethodPost, url+"/v1/statement", "SELECT 5")
		pages := c.follow(first)
		if last := pages[len(pages)-1]; last.Error != nil {
			t.Fatalf("query failed: %+v", last.Error)
		}
		if rows := rowsOf(pages); len(rows) != 1 || fmt.Sprint(rows[0][0]) != "5" {
			t.Fatalf("rows = %v", rows)
		}
		var info sluiceInfo
		natstest.Eventually(t, 10*time.Second, "query finished", func() bool {
			info = getSluiceInfo(t, url, first.ID)
			return info.State == "FINISHED"
		})
		// Three placements at least: a late heartbeat under load may also move the query
		// once more before it starts (a move, not a failed dispatch).
		if info.Attempts < 3 || len(info.DispatchErrors) != 2 {
			t.Fatalf("status = %+v; want at least 3 attempts, 2 dispatch errors", info)
		}
		var placedOn []string
		failed := 0
		eachEvent(t, js, []string{events.SubjectPlaced, events.SubjectDispatchFailed}, func(m jetstream.Msg) bool {
			if m.Headers().Get("ce-subject") != first.ID {
				return true
			}
			switch m.Subject() {
			case events.SubjectPlaced:
				var p events.QueryPlaced
				if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryPlaced, &p); err != nil {
					t.Fatal(err)
				}
				if p.Attempt != len(placedOn) {
					t.Errorf("placement attempt %d, want %d", p.Attempt, len(placedOn))
				}
				placedOn = append(placedOn, p.Cluster)
			case events.SubjectDispatchFailed:
				failed++
			}
			return true
		})
		if len(placedOn) < 3 || len(placedOn) != info.Attempts || failed != 2 || placedOn[0] == placedOn[1] {
			t.Fatalf("placements %v with %d failed dispatches; want %d placements (at least 3), the second on the other cluster", placedOn, failed, info.Attempts)
		}
	})

	t.Run("gives up after the attempt limit", func(t *testing.T) {
		a.FailSubmissions(100)
		b.FailSubmissions(100)
		first := c.results(http.MethodPost, url+"/v1/statement", "SELECT 6")
		pages := c.follow(first)
		last := pages[len(pages)-1]
		if last.Error == nil || last.Error.ErrorName != protocol.SluiceDispatchFailed.Name || !strings.Contains(last.Error.Message, "3 attempts") {
			t.Fatalf("last page error = %+v, want SLUICE_DISPATCH_FAILED after 3 attempts", last.Error)
		}
		if n := len(getSluiceInfo(t, url, first.ID).DispatchErrors); n != 3 {
			t.Errorf("%d dispatch errors in the status, want 3", n)
		}
		a.FailSubmissions(0)
		b.FailSubmissions(0)
	})
}

// TestCoordinatorDiesMidRun stops a coordinator while it runs a query: the query fails
// with SLUICE_CLUSTER_LOST once the coordinator has not answered for SLUICE_CLUSTER_LOST_AFTER,
// the cluster turns unhealthy, and the next query goes to the other coordinator.
func TestCoordinatorDiesMidRun(t *testing.T) {
	cos := map[string]*testcoordinator.Coordinator{}
	stops := map[string]func(){}
	var spec []string
	for _, name := range []string{"a", "b"} {
		co := testcoordinator.New(testcoordinator.Options{MaxWait: time.Second})
		u, stop := co.Start()
		t.Cleanup(stop)
		cos[name], stops[name] = co, stop
		co.Script("SELECT slow", testcoordinator.Result{Columns: []protocol.Column{{Name: "n", Type: "bigint"}}, Rows: [][]any{{1}}, Hold: true})
		spec = append(spec, name+"=trino:"+u)
	}
	url, js := upWithCoordinators(t, strings.Join(spec, ","), func(c *cli.UpConfig) { c.LostAfter = 2 * time.Second })
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice"}}
	natstest.Eventually(t, 15*time.Second, "both clusters ready", func() bool {
		_, body := c.do(http.MethodGet, url+"/v1/clusters", "")
		return strings.Count(string(body), `"ready"`) == 2
	})
	first := c.results(http.MethodPost, url+"/v1/statement", "SELECT slow")
	var info sluiceInfo
	natstest.Eventually(t, 15*time.Second, "slow query running", func() bool {
		info = getSluiceInfo(t, url, first.ID)
		return info.State == "RUNNING"
	})
	dead, other := info.Cluster, map[string]string{"a": "b", "b": "a"}[info.Cluster]
	stops[dead]()

	subject, ended := endedEvent(t, js, first.ID)
	if subject != events.SubjectFailed || ended.Error == nil || ended.Error.ErrorName != protocol.SluiceClusterLost.Name {
		t.Fatalf("query on the dead coordinator ended %s %+v; want failed SLUICE_CLUSTER_LOST", subject, ended.Error)
	}
	natstest.Eventually(t, 15*time.Second, dead+" unhealthy", func() bool {
		_, body := c.do(http.MethodGet, url+"/v1/clusters/"+dead, "")
		return strings.Contains(string(body), `"unhealthy"`)
	})
	pages := c.run("SELECT 3")
	if last := pages[len(pages)-1]; last.Error != nil {
		t.Fatalf("query after the coordinator died: %+v", last.Error)
	}
	if got := getSluiceInfo(t, url, pages[0].ID); got.Cluster != other {
		t.Errorf("next query ran on %q, want %q", got.Cluster, other)
	}
	if n := len(cos[other].Queries()); n != 1 {
		t.Errorf("%s saw %d queries, want 1", other, n)
	}
}

// TestCoordinatorMemoryCountsAgainstGroups: the memory a query holds on its coordinator is
// reported while it runs and counts against its group's soft memory limit (the query
// declared none): the next query of the group waits until the first one ends.
func TestCoordinatorMemoryCountsAgainstGroups(t *testing.T) {
	co, coURL := startTestCoordinator(t, testcoordinator.Options{})
	co.Script("SELECT hog", testcoordinator.Result{Columns: []protocol.Column{{Name: "n", Type: "bigint"}}, Rows: [][]any{{1}},
		Hold: true, PeakMemory: 2 << 30})
	dir := t.TempDir()
	groupsFile := dir + "/groups.json"
	if err := os.WriteFile(groupsFile, []byte(`{"rootGroups": [{"name": "etl", "maxQueued": 10, "hardConcurrencyLimit": 5,
	  "softMemoryLimit": "1GB"}], "selectors": [{"group": "etl"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	url, _ := upWithCoordinators(t, "c1=trino:"+coURL, func(c *cli.UpConfig) {
		c.ResourceGroups = groupsFile
		c.Progress = 100 * time.Millisecond
	})
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice"}}
	hog := c.results(http.MethodPost, url+"/v1/statement", "SELECT hog")
	natstest.Eventually(t, 15*time.Second, "the hog's 2 GiB reported", func() bool {
		_, body := c.do(http.MethodGet, url+"/v1/query/"+hog.ID, "")
		return strings.Contains(string(body), fmt.Sprintf(`"userMemoryReservationBytes":%d`, 2<<30))
	})
	next := c.results(http.MethodPost, url+"/v1/statement", "SELECT 1")
	natstest.Eventually(t, 15*time.Second, "the next query queued by the soft memory limit", func() bool {
		_, body := c.do(http.MethodGet, url+"/v1/query/"+next.ID, "")
		return strings.Contains(string(body), `"state":"QUEUED"`) && strings.Contains(string(body), "softMemoryLimit")
	})
	rec := co.Queries()[0]
	if err := co.Release(rec.ID); err != nil {
		t.Fatal(err)
	}
	pages := c.follow(next)
	if last := pages[len(pages)-1]; last.Error != nil {
		t.Fatalf("next query: %+v", last.Error)
	}
}
