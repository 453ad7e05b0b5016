package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// clusterState asks the admin API for a cluster's state.
func (f *fleet) clusterState(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + f.httpAddr + "/v1/clusters/" + name)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var v struct {
		State string `json:"state"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return ""
	}
	return v.State
}

// cli runs the sluice command against the fleet and returns its output.
func (f *fleet) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(sluiceBin, append(args, "--server", "http://"+f.httpAddr, "--user", "operator")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// restart stops one process with SIGTERM and starts it again.
func (f *fleet) restart(t *testing.T, name string, env []string, args ...string) {
	t.Helper()
	p := f.procs[name]
	_ = p.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM", name)
	}
	before := strings.Count(f.logOf(name), "executor-proxy ready")
	f.spawn(name, env, args...)
	natstest.Eventually(t, 30*time.Second, name+" ready again", func() bool {
		return strings.Count(f.logOf(name), "executor-proxy ready") > before
	})
}

func (f *fleet) logOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.dir, name+".log"))
	return string(b)
}

// TestDrainRestartResume drains a cluster under load through the CLI, restarts its process
// while drained, and resumes it: no query is killed or lost, nothing is placed on the
// cluster while it drains, the drain survives the restart, and the cluster reports drained
// once idle.
func TestDrainRestartResume(t *testing.T) {
	const total = 80
	f := newFleet(t, 4)
	f.start()
	nc, js := f.js(t)
	defer nc.Close()

	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "drain", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	ids := map[string]bool{}
	var mu sync.Mutex
	submit := func(from, to int) {
		var wg sync.WaitGroup
		for w := 0; w < 10; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < to; i += 10 {
					qr := c.results(http.MethodPost, c.base+"/v1/statement",
						fmt.Sprintf("SELECT count(*), sum(l_quantity) FROM lineitem, range(2) WHERE l_orderkey %% %d = %d", total, i))
					mu.Lock()
					ids[qr.ID] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	submit(0, total/2)
	natstest.Eventually(t, 60*time.Second, "both clusters ran queries", func() bool {
		return countStartedOn(t, js, "local-1") > 0 && countStartedOn(t, js, "local-2") > 0
	})

	out := f.cli(t, "clusters", "drain", "local-1", "--reason", "kernel upgrade")
	drainedAt := time.Now()
	if !strings.Contains(out, "local-1: draining") && !strings.Contains(out, "local-1: drained") {
		t.Fatalf("drain answered %q", out)
	}
	submit(total/2, total) // more load while local-1 drains
	natstest.Eventually(t, 60*time.Second, "local-1 drained", func() bool { return f.clusterState(t, "local-1") == "drained" })
	ls := f.cli(t, "clusters", "ls")
	if !strings.Contains(ls, "local-1") || !strings.Contains(ls, "drained") || !strings.Contains(ls, "local-2") {
		t.Fatalf("clusters ls:\n%s", ls)
	}

	f.restart(t, "local-1", []string{"SLUICE_CLUSTER=local-1"}, "executor-proxy")
	natstest.Eventually(t, 30*time.Second, "local-1 drained after its restart", func() bool { return f.clusterState(t, "local-1") == "drained" })
	resumedAt := time.Now()
	f.cli(t, "clusters", "resume", "local-1")
	natstest.Eventually(t, 30*time.Second, "local-1 ready", func() bool { return f.clusterState(t, "local-1") == "ready" })

	natstest.Eventually(t, 120*time.Second, "every query ended", func() bool {
		ended := 0
		for _, e := range readLog(t, js) {
			if ids[e.id] && events.IsTerminal(e.subject) {
				ended++
			}
		}
		return ended == len(ids)
	})
	if len(ids) != total {
		t.Fatalf("%d distinct query IDs for %d submissions", len(ids), total)
	}
	counts := map[string]map[string]int{}
	for _, e := range readLog(t, js) {
		if !ids[e.id] {
			continue
		}
		if counts[e.id] == nil {
			counts[e.id] = map[string]int{}
		}
		counts[e.id][e.subject]++
	}
	for id := range ids {
		c := counts[id]
		if c[events.SubjectSubmitted] != 1 || c[events.SubjectAdmitted] != 1 || c[events.SubjectFinished] != 1 ||
			c[events.SubjectFailed]+c[events.SubjectCanceled]+c[events.SubjectRejected] != 0 {
			t.Errorf("query %s: events %v; want submitted, admitted and finished exactly once", id, c)
		}
	}
	// Nothing was placed on local-1 while it drained (a second of slack for placements
	// decided just before the drain was seen).
	moved := 0
	eachEvent(t, js, []string{events.SubjectPlaced}, func(m jetstream.Msg) bool {
		var p events.QueryPlaced
		if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryPlaced, &p); err != nil {
			t.Fatal(err)
		}
		if p.Attempt > 0 {
			moved++
		}
		if p.Cluster == "local-1" && p.PlacedAt.After(drainedAt.Add(time.Second)) && p.PlacedAt.Before(resumedAt) {
			t.Errorf("query %s placed on local-1 at %s while it drained (%s to %s)", p.Query.ID, p.PlacedAt, drainedAt, resumedAt)
		}
		return true
	})
	t.Logf("%d placements moved off local-1 while it drained", moved)
}

// countStartedOn counts the started events of a cluster.
func countStartedOn(t *testing.T, js jetstream.JetStream, cluster string) int {
	n := 0
	eachEvent(t, js, []string{events.SubjectStarted}, func(m jetstream.Msg) bool {
		var p events.QueryStarted
		if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryStarted, &p); err == nil && p.Cluster == cluster {
			n++
		}
		return true
	})
	return n
}
