package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// upWithGroups runs sluice up in process with a resource-group file and a NATS port the
// test can read the log from. It returns the client URL, the file and a JetStream handle.
func upWithGroups(t *testing.T, groups string) (string, string, jetstream.JetStream) {
	t.Helper()
	dir := newDataDir(t)
	file := filepath.Join(dir, "resource-groups.json")
	if err := os.WriteFile(file, []byte(groups), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := upOn(t, dir, func(c *cli.UpConfig) {
		c.ResourceGroups = file
		c.NatsListen = fmt.Sprintf("127.0.0.1:%d", port)
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
	return url, file, js
}

type admittedEvent struct {
	subject string
	id      string
	group   string
	cluster string
}

// lifecycle reads admitted, placed and terminal events in log order.
func lifecycle(t *testing.T, js jetstream.JetStream) []admittedEvent {
	t.Helper()
	var out []admittedEvent
	eachEvent(t, js, append([]string{events.SubjectAdmitted, events.SubjectPlaced}, events.TerminalSubjects...), func(m jetstream.Msg) bool {
		e := admittedEvent{subject: m.Subject(), id: m.Headers().Get("ce-subject")}
		switch m.Subject() {
		case events.SubjectAdmitted:
			var p events.QueryAdmitted
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryAdmitted, &p); err != nil {
				t.Fatal(err)
			}
			e.group = p.Group
		case events.SubjectPlaced:
			var p events.QueryPlaced
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryPlaced, &p); err != nil {
				t.Fatal(err)
			}
			e.cluster = p.Cluster
		}
		out = append(out, e)
		return true
	})
	return out
}

// TestFleetWideLimitOfOne: one group with hardConcurrencyLimit 1 over both local clusters;
// 5 clients run 10 queries each through trino-go-client; the log shows that no two queries
// ever held a slot at once, and that both clusters ran queries.
func TestFleetWideLimitOfOne(t *testing.T) {
	url, _, js := upWithGroups(t, `{
	  "rootGroups": [{"name": "global", "maxQueued": 100, "hardConcurrencyLimit": 100,
	    "subGroups": [{"name": "etl", "maxQueued": 100, "hardConcurrencyLimit": 1, "schedulingPolicy": "fair"}]}],
	  "selectors": [{"group": "global.etl"}]}`)
	const clients, each = 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sql.Open("trino", fmt.Sprintf("%s?catalog=tpch&schema=tiny", strings.Replace(url, "http://", fmt.Sprintf("http://client%d@", c), 1)))
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			for i := 0; i < each; i++ {
				var n int64
				if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM lineitem WHERE l_orderkey %% 50 = %d", c*each+i)).Scan(&n); err != nil {
					errs <- fmt.Errorf("client %d query %d: %w", c, i, err)
					return
				}
				if n == 0 {
					errs <- fmt.Errorf("client %d query %d: no rows counted", c, i)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	running, peak, admitted := map[string]bool{}, 0, 0
	clusters := map[string]int{}
	for _, e := range lifecycle(t, js) {
		switch {
		case e.subject == events.SubjectAdmitted:
			admitted++
			if e.group != "global.etl" {
				t.Errorf("query %s admitted in %q, want global.etl", e.id, e.group)
			}
			running[e.id] = true
			peak = max(peak, len(running))
		case e.subject == events.SubjectPlaced:
			clusters[e.cluster]++
		case events.IsTerminal(e.subject):
			delete(running, e.id)
		}
	}
	if admitted != clients*each {
		t.Fatalf("%d admissions, want %d", admitted, clients*each)
	}
	if peak != 1 {
		t.Fatalf("peak of %d queries holding a slot; hardConcurrencyLimit is 1", peak)
	}
	if len(clusters) != 2 {
		t.Errorf("queries ran on %v; want both local clusters", clusters)
	}
	t.Logf("%d queries, peak running 1, by cluster %v", admitted, clusters)
}

// groupState fetches GET /v1/resourceGroupState/{group}.
func groupState(t *testing.T, url, group string) map[string]any {
	t.Helper()
	resp, err := http.Get(url + "/v1/resourceGroupState/" + group)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resourceGroupState %s: HTTP %d", group, resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResourceGroupsAtTheFrontDoor: verdicts at submit (QUERY_QUEUE_FULL, no selector),
// the queued reason, the group state endpoint, a live configuration change, and an invalid
// file that leaves the last good configuration in force.
func TestResourceGroupsAtTheFrontDoor(t *testing.T) {
	url, file, _ := upWithGroups(t, `{
	  "rootGroups": [{"name": "global", "maxQueued": 10, "hardConcurrencyLimit": 10,
	    "subGroups": [{"name": "frozen", "maxQueued": 1, "hardConcurrencyLimit": 0}]}],
	  "selectors": [{"user": "alice", "group": "global.frozen"}]}`)
	alice := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "alice", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	bob := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "bob"}}

	// No selector matches bob: the POST itself fails.
	qr := bob.results(http.MethodPost, url+"/v1/statement", "SELECT 1")
	if qr.Error == nil || qr.Error.ErrorName != protocol.QueryRejected.Name || qr.NextURI != "" {
		t.Fatalf("unmatched query: %+v, want QUERY_REJECTED in the POST response", qr)
	}
	if !strings.Contains(qr.Error.Message, "did not match any selection rule") {
		t.Fatalf("message %q", qr.Error.Message)
	}

	// global.frozen runs nothing: the first query queues, the second finds the queue full.
	first := alice.results(http.MethodPost, url+"/v1/statement", "SELECT count(*) FROM nation")
	if first.Error != nil || first.NextURI == "" || first.Stats.State != protocol.StateQueued {
		t.Fatalf("first query: %+v, want QUEUED", first)
	}
	full := alice.results(http.MethodPost, url+"/v1/statement", "SELECT 2")
	if full.Error == nil || full.Error.ErrorName != protocol.QueryQueueFull.Name || full.Stats.State != protocol.StateFailed {
		t.Fatalf("second query: %+v, want QUERY_QUEUE_FULL in the POST response", full)
	}
	if !strings.Contains(full.Error.Message, "global.frozen") {
		t.Fatalf("queue-full message %q does not name the group", full.Error.Message)
	}
	// trino-go-client sees the same failure as a query error.
	db, err := sql.Open("trino", strings.Replace(url, "http://", "http://alice@", 1)+"?catalog=tpch&schema=tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Query("SELECT 3")
	if qe := queryError(t, err); qe.ErrorName != protocol.QueryQueueFull.Name {
		t.Fatalf("driver error %s, want QUERY_QUEUE_FULL", qe.ErrorName)
	}

	// Why it waits, in the poll's stats and in /v1/query.
	const reason = "global.frozen: 0/0 running (hardConcurrencyLimit)"
	poll := alice.results(http.MethodGet, first.NextURI, "")
	if poll.Stats.QueuedReason != reason {
		t.Fatalf("poll reason %q, want %q", poll.Stats.QueuedReason, reason)
	}
	var info struct {
		State         string `json:"state"`
		QueuedReason  string `json:"queuedReason"`
		ResourceGroup string `json:"resourceGroupId"`
	}
	_, body := alice.do(http.MethodGet, url+"/v1/query/"+first.ID, "")
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.QueuedReason != reason || info.ResourceGroup != "global.frozen" || info.State != "QUEUED" {
		t.Fatalf("query info %+v", info)
	}

	// The group's fleet-wide state, in Presto's shape.
	st := groupState(t, url, "global/frozen")
	if st["state"] != "FULL" || st["numQueuedQueries"] != 1.0 || st["hardConcurrencyLimit"] != 0.0 || st["maxQueuedQueries"] != 1.0 {
		t.Fatalf("global/frozen state %v", st)
	}
	root := groupState(t, url, "global")
	if subs, _ := root["subGroups"].([]any); len(subs) != 1 || root["numQueuedQueries"] != 1.0 || root["schedulingPolicy"] != "FAIR" {
		t.Fatalf("global state %v", root)
	}
	if resp, err := http.Get(url + "/v1/resourceGroupState/global/nope"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown group: %v %v, want 404", resp, err)
	}

	// A live change of the file thaws the group: the queued query runs to the end. (An
	// invalid file is covered by admission's TestConfigLifecycle.)
	if err := os.WriteFile(file, []byte(`{
	  "rootGroups": [{"name": "global", "maxQueued": 10, "hardConcurrencyLimit": 10,
	    "subGroups": [{"name": "frozen", "maxQueued": 1, "hardConcurrencyLimit": 1}]}],
	  "selectors": [{"user": "alice", "group": "global.frozen"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for qr = first; qr.NextURI != ""; qr = alice.results(http.MethodGet, qr.NextURI, "") {
		if time.Now().After(deadline) {
			t.Fatal("the queued query did not run after the configuration change")
		}
	}
	if qr.Error != nil || qr.Stats.State != protocol.StateFinished {
		t.Fatalf("thawed query ended %+v", qr)
	}
	natstest.Eventually(t, 5*time.Second, "the new limit in the group state", func() bool {
		return groupState(t, url, "global/frozen")["hardConcurrencyLimit"] == 1.0
	})
}
