package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
)

// queryHistory is what the log says about one query.
type queryHistory struct {
	placed    []events.QueryPlaced
	started   []events.QueryStarted
	terminals []string
	ended     events.QueryEnded
}

// histories folds the placed, started and terminal events of the log by query.
func histories(t *testing.T, js jetstream.JetStream) map[string]*queryHistory {
	t.Helper()
	out := map[string]*queryHistory{}
	get := func(id string) *queryHistory {
		if out[id] == nil {
			out[id] = &queryHistory{}
		}
		return out[id]
	}
	subjects := append([]string{events.SubjectPlaced, events.SubjectStarted}, events.TerminalSubjects...)
	eachEvent(t, js, subjects, func(m jetstream.Msg) bool {
		id := m.Headers().Get("ce-subject")
		switch s := m.Subject(); {
		case s == events.SubjectPlaced:
			var p events.QueryPlaced
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryPlaced, &p); err != nil {
				t.Fatal(err)
			}
			get(id).placed = append(get(id).placed, p)
		case s == events.SubjectStarted:
			var p events.QueryStarted
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryStarted, &p); err != nil {
				t.Fatal(err)
			}
			get(id).started = append(get(id).started, p)
		default:
			var p events.QueryEnded
			if _, err := events.Decode(m.Headers(), m.Data(), events.TypeForSubject[s], &p); err != nil {
				t.Fatal(err)
			}
			get(id).terminals = append(get(id).terminals, s)
			get(id).ended = p
		}
		return true
	})
	return out
}

// TestClusterKilledMidRun SIGKILLs a cluster's process while it runs a query and holds
// others placed on it that have not started (the placement profile has no Capacity filter,
// so the clusters queue too). The placed queries move to the other cluster and finish
// there; the running one fails with SLUICE_CLUSTER_LOST; nothing hangs; and the restarted
// process runs none of the queries that left it.
func TestClusterKilledMidRun(t *testing.T) {
	f := newFleet(t, 8)
	profiles := filepath.Join(f.dir, "profiles.json")
	if err := os.WriteFile(profiles, []byte(`{"profiles": [{"name": "queue-at-clusters",
	  "filters": ["Healthy", "NotDraining"], "pluginArgs": {"Healthy": {"heartbeatTimeout": "1s"}},
	  "scores": [{"name": "LeastLoaded", "weight": 1}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f.env = append(f.env, "SLUICE_PLACEMENT_PROFILES="+profiles, "SLUICE_HEARTBEAT_TIMEOUT=1s", "SLUICE_CLUSTER_LOST_AFTER=3s", "SLUICE_SLOTS=1")
	f.start()
	nc, js := f.js(t)
	defer nc.Close()
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "kill", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	submit := func(sql string) string { return c.results(http.MethodPost, c.base+"/v1/statement", sql).ID }

	// One endless query per cluster holds its only slot; short ones queue behind them.
	const endless = "SELECT count(*) FROM range(1000000000000) a WHERE a.range %% 7 = %d"
	long := []string{submit(fmt.Sprintf(endless, 1))}
	natstest.Eventually(t, 30*time.Second, "first endless query running", func() bool { return len(histories(t, js)[long[0]].startedOnly()) == 1 })
	long = append(long, submit(fmt.Sprintf(endless, 2)))
	natstest.Eventually(t, 30*time.Second, "second endless query running", func() bool { return len(histories(t, js)[long[1]].startedOnly()) == 1 })
	h := histories(t, js)
	if a, b := h[long[0]].started[0].Cluster, h[long[1]].started[0].Cluster; a == b {
		t.Fatalf("both endless queries run on %s", a)
	}
	var short []string
	for i := range 6 {
		short = append(short, submit(fmt.Sprintf("SELECT count(*) FROM range(1000) t(x) WHERE x %% 7 = %d", i)))
	}
	waitingOn := func(h map[string]*queryHistory, cluster string) []string {
		var ids []string
		for _, id := range short {
			if q := h[id]; q != nil && len(q.placed) > 0 && q.placed[len(q.placed)-1].Cluster == cluster && len(q.started) == 0 {
				ids = append(ids, id)
			}
		}
		return ids
	}
	natstest.Eventually(t, 30*time.Second, "every short query placed", func() bool {
		h := histories(t, js)
		return len(waitingOn(h, "local-1"))+len(waitingOn(h, "local-2")) == len(short)
	})
	h = histories(t, js)
	stranded := waitingOn(h, "local-1")
	if len(stranded) == 0 {
		t.Fatalf("no short query waits on local-1 (all on local-2): %v", waitingOn(h, "local-2"))
	}
	lostID, survivorID := long[0], long[1]
	if h[long[1]].started[0].Cluster == "local-1" {
		lostID, survivorID = long[1], long[0]
	}

	killedAt := time.Now()
	if err := f.procs["local-1"].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = f.procs["local-1"].Wait()

	// The queries placed on local-1 move to local-2 within the heartbeat timeout, where
	// they wait behind the endless query; the running one is lost after 3 s.
	natstest.Eventually(t, 30*time.Second, "queued placements moved to local-2", func() bool {
		return len(waitingOn(histories(t, js), "local-2")) == len(short)
	})
	natstest.Eventually(t, 30*time.Second, "the query running on local-1 ended", func() bool {
		return len(histories(t, js)[lostID].terminals) > 0
	})
	if code, body := c.do(http.MethodDelete, c.base+"/v1/query/"+survivorID, ""); code != http.StatusNoContent {
		t.Fatalf("cancel the endless query on local-2: HTTP %d %s", code, body)
	}
	natstest.Eventually(t, 60*time.Second, "every query ended", func() bool {
		h := histories(t, js)
		for _, id := range append(short, long...) {
			if h[id] == nil || len(h[id].terminals) == 0 {
				return false
			}
		}
		return true
	})

	h = histories(t, js)
	lost := h[lostID]
	if lost.terminals[0] != events.SubjectFailed || lost.ended.Error == nil || lost.ended.Error.ErrorName != protocol.SluiceClusterLost.Name ||
		!strings.Contains(lost.ended.Error.Message, "local-1") {
		t.Errorf("the query running on local-1 ended %v %+v; want failed SLUICE_CLUSTER_LOST naming local-1", lost.terminals, lost.ended.Error)
	}
	if h[survivorID].terminals[0] != events.SubjectCanceled {
		t.Errorf("the endless query on local-2 ended %v, want canceled", h[survivorID].terminals)
	}
	isStranded := map[string]bool{}
	for _, id := range stranded {
		isStranded[id] = true
	}
	for _, id := range short {
		q := h[id]
		if len(q.terminals) != 1 || q.terminals[0] != events.SubjectFinished {
			t.Errorf("short query %s ended %v, want finished once", id, q.terminals)
			continue
		}
		if len(q.started) != 1 || q.started[0].Cluster != "local-2" {
			t.Errorf("short query %s started %+v, want once on local-2", id, q.started)
		}
		if last := q.placed[len(q.placed)-1]; isStranded[id] && (last.Cluster != "local-2" || last.Attempt < 1 || q.started[0].Attempt != last.Attempt) {
			t.Errorf("stranded query %s: last placement %s attempt %d, started attempt %d; want moved to local-2", id, last.Cluster, last.Attempt, q.started[0].Attempt)
		}
	}
	// Ingest answers with the same outcome (a client polling would see it).
	assertQueryState(t, c.base, lostID, "FAILED")

	// local-1 comes back: the fragments it held are redelivered to it, and its claims make
	// it drop them; it starts nothing of what left it.
	f.spawn("local-1", []string{"SLUICE_CLUSTER=local-1"}, "executor-proxy")
	natstest.Eventually(t, 30*time.Second, "local-1 settled its redelivered fragments", func() bool {
		return heldBy(t, js, "local-1") == 0 && f.clusterState(t, "local-1") == "ready"
	})
	for id, q := range histories(t, js) {
		for _, s := range q.started {
			if s.Cluster == "local-1" && s.StartedAt.After(killedAt) {
				t.Errorf("query %s started on local-1 after it was killed", id)
			}
		}
		if len(q.terminals) > 1 {
			t.Errorf("query %s ended %d times: %v", id, len(q.terminals), q.terminals)
		}
	}
}

// held counts the messages of a consumer not yet acknowledged: waiting in its subject or
// delivered and not settled (-1: the consumer cannot be read).
func held(t *testing.T, js jetstream.JetStream, stream, consumer string) int {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return -1
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return -1
	}
	return info.NumAckPending + int(info.NumPending)
}

// heldBy counts what a cluster holds of SQL queries and plan fragments (-1: unknown).
func heldBy(t *testing.T, js jetstream.JetStream, cluster string) int {
	sql, plans := held(t, js, events.StreamFragments, events.ExecutorConsumer(cluster)), held(t, js, events.StreamPlanFragments, events.PlanExecutorConsumer(cluster))
	if sql < 0 || plans < 0 {
		return -1
	}
	return sql + plans
}

// planOnBusyLocal1 drains local-2, starts an endless SQL query on local-1 (it holds
// local-1's slot) and submits TPC-H Q3 as a plan, which can only be placed on local-1. It
// returns the endless query's ID and the plan's first answer; local-2 stays drained.
func planOnBusyLocal1(t *testing.T, f *fleet, c rawClient, js jetstream.JetStream) (string, protocol.QueryResults) {
	t.Helper()
	f.cli(t, "clusters", "drain", "local-2")
	natstest.Eventually(t, 30*time.Second, "local-2 drained", func() bool { return f.clusterState(t, "local-2") == "drained" })
	endless := c.results(http.MethodPost, c.base+"/v1/statement", "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 1").ID
	natstest.Eventually(t, 30*time.Second, "endless query running on local-1", func() bool { return len(histories(t, js)[endless].startedOnly()) == 1 })
	plan := c.postPlan(shareddata.IsthmusPlan(t, "q03"), "application/json", nil)
	if plan.Error != nil {
		t.Fatalf("plan refused: %s", plan.Error.Message)
	}
	return endless, plan
}

// startedOnly returns the started events of a query that has not ended.
func (q *queryHistory) startedOnly() []events.QueryStarted {
	if q == nil || len(q.terminals) > 0 {
		return nil
	}
	return q.started
}

// TestExecutorKilledWithPlanFragments SIGKILLs a cluster holding fragments of a plan
// query (its only slot is busy with an endless SQL query, so a released fragment waits in
// it): placement moves the plan, whose root has not started, to the other cluster; the
// scheduler releases every unfinished fragment there; the query returns the rows DuckDB
// returns. The restarted process drops the fragments it held.
func TestExecutorKilledWithPlanFragments(t *testing.T) {
	f := newFleet(t, 8)
	f.env = append(f.env, "SLUICE_HEARTBEAT_TIMEOUT=1s", "SLUICE_CLUSTER_LOST_AFTER=3s", "SLUICE_SLOTS=1")
	f.start()
	nc, js := f.js(t)
	defer nc.Close()
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "kill", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}

	endless, plan := planOnBusyLocal1(t, f, c, js)
	natstest.Eventually(t, 30*time.Second, "a fragment of the plan held by local-1", func() bool {
		// The endless query holds the only slot, so the plan fragment waits for it at
		// local-1 or in local-1's subject.
		return held(t, js, events.StreamPlanFragments, events.PlanExecutorConsumer("local-1")) == 1 &&
			held(t, js, events.StreamFragments, events.ExecutorConsumer("local-1")) == 1
	})
	f.cli(t, "clusters", "resume", "local-2")
	killedAt := time.Now()
	if err := f.procs["local-1"].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = f.procs["local-1"].Wait()

	followTPCH(t, c, plan, 3, "after its cluster was killed")
	h := histories(t, js)[plan.ID]
	if last := h.placed[len(h.placed)-1]; len(h.placed) < 2 || last.Cluster != "local-2" || last.Attempt < 1 {
		t.Errorf("plan placements %+v, want moved to local-2", h.placed)
	}
	if len(h.started) != 1 || h.started[0].Cluster != "local-2" {
		t.Errorf("plan root started %+v, want once on local-2", h.started)
	}
	natstest.Eventually(t, 30*time.Second, "the endless query on local-1 lost", func() bool { return len(histories(t, js)[endless].terminals) > 0 })

	f.spawn("local-1", []string{"SLUICE_CLUSTER=local-1"}, "executor-proxy")
	natstest.Eventually(t, 30*time.Second, "local-1 settled its redelivered fragments", func() bool {
		return heldBy(t, js, "local-1") == 0 && f.clusterState(t, "local-1") == "ready"
	})
	eachOutcomes(t, js, func(o events.FragmentOutcomes) {
		for _, d := range o.Done {
			if d.Cluster == "local-1" && d.EndedAt.After(killedAt) {
				t.Errorf("local-1 ran fragment %s after it was killed", d.FragmentID)
			}
		}
	})
}

// TestKilledThiefsOutputsAreRerun: executors that do not share a disk, and fragments
// stolen across clusters (SLUICE_STEAL_FRAGMENTS=leaves). A plan placed on local-1, whose
// only slot is held by an endless query, has its table scans run by local-2 (but the one
// already waiting at local-1). local-2 is
// then SIGKILLed and its disk is gone with it. When local-1's slot frees, the joins find
// their inputs missing and say which; the scheduler reruns those scans on local-1, and the
// plan returns DuckDB's rows.
func TestKilledThiefsOutputsAreRerun(t *testing.T) {
	f := newFleet(t, 8)
	f.env = append(f.env, "SLUICE_HEARTBEAT_TIMEOUT=1s", "SLUICE_CLUSTER_LOST_AFTER=3s", "SLUICE_SLOTS=1", "SLUICE_STEAL_FRAGMENTS=leaves")
	disks := map[string]string{"local-1": filepath.Join(f.dir, "disk-1"), "local-2": filepath.Join(f.dir, "disk-2")}
	f.clusterEnv = map[string][]string{}
	for name, dir := range disks {
		f.clusterEnv[name] = []string{"SLUICE_INTERMEDIATE_DIR=" + dir}
	}
	f.start()
	nc, js := f.js(t)
	defer nc.Close()
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "thief", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}

	// The plan's scans: the fragments without inputs (one slot per cluster: no partitions).
	p, err := fragment.Parse(shareddata.IsthmusPlan(t, "q03"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	dag, err := fragment.Cut(p, fragment.Options{QueryID: "q"})
	if err != nil {
		t.Fatal(err)
	}
	scans := 0
	for _, fr := range dag.Fragments {
		if len(fr.Deps) == 0 {
			scans++
		}
	}

	endless, plan := planOnBusyLocal1(t, f, c, js)
	f.cli(t, "clusters", "resume", "local-2")
	// One scan was released to local-1's window (1 slot x 1) at placement and waits there
	// for the slot; local-2 takes the others.
	natstest.Eventually(t, 30*time.Second, "local-2 ran the plan's other scans", func() bool {
		_, perQuery := fragmentsDoneOn(t, js, "local-2")
		return perQuery[plan.ID] == scans-1
	})
	if h := histories(t, js)[plan.ID]; len(h.placed) != 1 || h.placed[0].Cluster != "local-1" {
		t.Fatalf("plan placements %+v, want local-1 only", h.placed)
	}
	if err := f.procs["local-2"].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = f.procs["local-2"].Wait()
	if err := os.RemoveAll(disks["local-2"]); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 30*time.Second, "local-2 no longer ready", func() bool { return f.clusterState(t, "local-2") != "ready" })
	if code, _ := c.do(http.MethodDelete, c.base+"/v1/query/"+endless, ""); code >= 300 {
		t.Fatalf("cancel the endless query: %d", code)
	}

	followTPCH(t, c, plan, 3, "after losing local-2's outputs")
	missing := 0
	eachOutcomes(t, js, func(o events.FragmentOutcomes) {
		for _, d := range o.Failed {
			if d.QueryID == plan.ID && d.Retriable {
				missing += len(d.MissingInputs)
			}
		}
	})
	if missing == 0 {
		t.Error("no fragment reported its inputs missing: the lost outputs were not exercised")
	}
	if _, perQuery := fragmentsDoneOn(t, js, "local-1"); perQuery[plan.ID] < missing {
		t.Errorf("local-1 ran %d fragments of the plan, want at least the %d lost scans rerun", perQuery[plan.ID], missing)
	}
	if h := histories(t, js)[plan.ID]; len(h.started) != 1 || h.started[0].Cluster != "local-1" {
		t.Errorf("the root started %+v, want once on local-1", h.started)
	}
}
