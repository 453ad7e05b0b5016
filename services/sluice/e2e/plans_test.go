package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/rowcompare"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// postPlan submits a Substrait plan to /v1/plan and returns the first QueryResults.
func (c rawClient) postPlan(plan []byte, contentType string, extra map[string]string) protocol.QueryResults {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/plan", bytes.NewReader(plan))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var qr protocol.QueryResults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&qr); err != nil {
		c.t.Fatalf("POST /v1/plan: HTTP %d, bad QueryResults %s: %v", resp.StatusCode, b, err)
	}
	return qr
}

// wireRows turns result pages into comparable cells, using their column types.
func wireRows(pages []protocol.QueryResults) [][]rowcompare.Cell {
	var cols []protocol.Column
	var out [][]rowcompare.Cell
	for _, p := range pages {
		if len(p.Columns) > 0 {
			cols = p.Columns
		}
		for _, r := range p.Data {
			row := make([]rowcompare.Cell, len(r))
			for i, v := range r {
				row[i] = rowcompare.FromWire(cols[i].Type, v)
			}
			out = append(out, row)
		}
	}
	return out
}

// fragmentsDone reads every fragment-done event: the clusters that ran fragments, the
// count of non-root fragments per query, and of roots (their output has no file: the
// client read it) per query.
func fragmentsDone(t *testing.T, js jetstream.JetStream) (clusters, perQuery, roots map[string]int) {
	t.Helper()
	clusters, perQuery, roots = map[string]int{}, map[string]int{}, map[string]int{}
	eachOutcomes(t, js, func(o events.FragmentOutcomes) {
		for _, d := range o.Done {
			clusters[d.Cluster]++
			if d.Output.Path == "" {
				roots[d.QueryID]++
			} else {
				perQuery[d.QueryID]++
			}
		}
	})
	return clusters, perQuery, roots
}

// TestTPCHPlansThroughSluice submits the 21 Isthmus TPC-H plans to /v1/plan at once.
// They are placed on both local clusters, cut into fragments (LINEITEM and ORDERS split
// into one partition per executor slot), run fragment by fragment on the clusters'
// executors with intermediate results passed as Parquet, and must return the rows DuckDB
// returns for the TPC-H SQL on the same files. Their intermediate results are deleted.
func TestTPCHPlansThroughSluice(t *testing.T) {
	dataDir := newDataDir(t)
	port := freePort(t)
	url := upOn(t, dataDir, func(c *cli.UpConfig) { c.NatsListen = fmt.Sprintf("127.0.0.1:%d", port) })
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	direct := openDirect(t)
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "planner", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}

	first := map[string]protocol.QueryResults{}
	for i, q := range shareddata.TPCHPlans {
		qr := c.postPlan(shareddata.IsthmusPlan(t, q), "application/json", map[string]string{"X-Sluice-Priority": strconv.Itoa(i % 3)})
		if qr.Error != nil {
			t.Fatalf("%s: %s: %s", q, qr.Error.ErrorName, qr.Error.Message)
		}
		first[q] = qr
	}
	ids := map[string]string{}
	for _, q := range shareddata.TPCHPlans {
		pages := c.follow(first[q])
		last := pages[len(pages)-1]
		if last.Error != nil {
			t.Fatalf("%s failed: %s: %s", q, last.Error.ErrorName, last.Error.Message)
		}
		ids[q] = last.ID
		n, _ := strconv.Atoi(q[1:])
		ref := tpchSQL(t, n, "tpch.tiny.")
		want, err := rowcompare.QueryRows(t.Context(), direct, ref)
		if err != nil {
			t.Fatalf("%s reference: %v", q, err)
		}
		if err := rowcompare.CompareRows(wireRows(pages), want, rowcompare.Ordered(ref)); err != nil {
			t.Errorf("%s through Sluice differs from DuckDB: %v", q, err)
		}
	}
	clusters, perQuery, roots := fragmentsDone(t, js)
	if clusters["local-1"] == 0 || clusters["local-2"] == 0 {
		t.Errorf("fragments ran on %v, want both local clusters", clusters)
	}
	for q, id := range ids { // the outcome that frees the root's place in the window
		if roots[id] == 0 {
			t.Errorf("%s: no outcome reported for its root fragment", q)
		}
	}
	if perQuery[ids["q01"]] < 4 {
		t.Errorf("q01 ran %d non-root fragments, want its LINEITEM scan split into one partition per slot", perQuery[ids["q01"]])
	}
	natstest.Eventually(t, 10*time.Second, "intermediate results deleted", func() bool {
		for _, id := range ids {
			if _, err := os.Stat(filepath.Join(dataDir, "intermediate", id)); err == nil {
				return false
			}
		}
		return true
	})
}

// TestPlanCancelAndErrors: a plan canceled while its fragments wait ends USER_CANCELED
// for its client; a plan the fragmenter cannot take gets a protocol error naming the
// relation.
func TestPlanCancelAndErrors(t *testing.T) {
	url := upInProcess(t, func(c *cli.UpConfig) { c.Clusters, c.Slots = 1, 1 })
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "planner", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	endless := c.results(http.MethodPost, c.base+"/v1/statement", "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3")
	natstest.Eventually(t, 30*time.Second, "endless query running", func() bool { return queryState(t, url, endless.ID) == "RUNNING" })

	plan := c.postPlan(shareddata.IsthmusPlan(t, "q01"), "application/json", nil)
	if plan.Error != nil {
		t.Fatalf("plan refused: %s", plan.Error.Message)
	}
	if code, body := c.do(http.MethodDelete, c.base+"/v1/query/"+plan.ID, ""); code != http.StatusNoContent {
		t.Fatalf("cancel: HTTP %d %s", code, body)
	}
	pages := c.follow(plan)
	if last := pages[len(pages)-1]; last.Error == nil || last.Error.ErrorName != protocol.UserCanceled.Name {
		t.Fatalf("a canceled plan ended with %+v, want USER_CANCELED", last.Error)
	}
	if code, _ := c.do(http.MethodDelete, c.base+"/v1/query/"+endless.ID, ""); code != http.StatusNoContent {
		t.Fatal("cannot cancel the endless query")
	}

	bad := c.postPlan([]byte(`{"relations":[{"root":{"input":{"fetch":{"count":"3"}},"names":["x"]}}]}`), "application/json", nil)
	if bad.Error == nil || bad.Error.ErrorName != "SYNTAX_ERROR" || !strings.Contains(bad.Error.Message, "root.input") {
		t.Fatalf("a fetch without input: %+v, want SYNTAX_ERROR naming root.input", bad.Error)
	}
}

// TestIdleClusterStealsFragments: a plan placed on local-1, whose only slot is held by an
// endless SQL query, makes progress on local-2: once local-2 takes work again, it takes
// the plan's fragments off local-1's queue and runs them under local-1's claim. The root
// stays on local-1 (the client is handed to it) and runs once its slot frees; the rows
// are DuckDB's.
func TestIdleClusterStealsFragments(t *testing.T) {
	dataDir := newDataDir(t)
	port := freePort(t)
	url := upOn(t, dataDir, func(c *cli.UpConfig) { c.NatsListen = fmt.Sprintf("127.0.0.1:%d", port); c.Slots = 1 })
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "thief", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	state := func(name string) string {
		_, body := c.do(http.MethodGet, url+"/v1/clusters/"+name, "")
		var v struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(body, &v)
		return v.State
	}

	natstest.Eventually(t, 30*time.Second, "both clusters ready", func() bool { return state("local-1") == "ready" && state("local-2") == "ready" })
	if code, body := c.do(http.MethodPost, url+"/v1/clusters/local-2/drain", ""); code != http.StatusOK {
		t.Fatalf("drain local-2: %d %s", code, body)
	}
	natstest.Eventually(t, 30*time.Second, "local-2 drained", func() bool { return state("local-2") == "drained" })
	endless := c.results(http.MethodPost, url+"/v1/statement", "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 1").ID
	natstest.Eventually(t, 30*time.Second, "the endless query running on local-1", func() bool {
		h := histories(t, js)[endless]
		return h != nil && len(h.started) == 1 && h.started[0].Cluster == "local-1"
	})
	plan := c.postPlan(shareddata.IsthmusPlan(t, "q03"), "application/json", nil)
	if plan.Error != nil {
		t.Fatalf("plan refused: %s", plan.Error.Message)
	}
	natstest.Eventually(t, 30*time.Second, "the plan placed on local-1", func() bool {
		h := histories(t, js)[plan.ID]
		return h != nil && len(h.placed) == 1 && h.placed[0].Cluster == "local-1"
	})
	if code, body := c.do(http.MethodPost, url+"/v1/clusters/local-2/resume", ""); code != http.StatusOK {
		t.Fatalf("resume local-2: %d %s", code, body)
	}
	natstest.Eventually(t, 30*time.Second, "local-2 ran fragments of the plan placed on local-1", func() bool {
		_, perQuery := fragmentsDoneOn(t, js, "local-2")
		return perQuery[plan.ID] > 0
	})
	if code, _ := c.do(http.MethodDelete, url+"/v1/query/"+endless, ""); code >= 300 {
		t.Fatalf("cancel the endless query: %d", code)
	}

	followTPCH(t, c, plan, 3, "with stolen fragments")
	h := histories(t, js)[plan.ID]
	if len(h.started) != 1 || h.started[0].Cluster != "local-1" {
		t.Errorf("the root started %+v, want once on local-1", h.started)
	}
}

// followTPCH follows a TPC-H plan query on tpch.tiny to its last page: it must succeed
// with the rows DuckDB returns for TPC-H query n's SQL (what names the case in errors).
func followTPCH(t *testing.T, c rawClient, plan protocol.QueryResults, n int, what string) {
	t.Helper()
	pages := c.follow(plan)
	if last := pages[len(pages)-1]; last.Error != nil {
		t.Fatalf("q%02d %s failed: %s: %s", n, what, last.Error.ErrorName, last.Error.Message)
	}
	want, err := rowcompare.QueryRows(t.Context(), openDirect(t), tpchSQL(t, n, "tpch.tiny."))
	if err != nil {
		t.Fatal(err)
	}
	if err := rowcompare.CompareRows(wireRows(pages), want, true); err != nil {
		t.Errorf("q%02d %s differs from DuckDB: %v", n, what, err)
	}
}

// fragmentsDoneOn counts the fragment-done events of cluster, by query.
func fragmentsDoneOn(t *testing.T, js jetstream.JetStream, cluster string) (int, map[string]int) {
	t.Helper()
	total, perQuery := 0, map[string]int{}
	eachOutcomes(t, js, func(o events.FragmentOutcomes) {
		for _, d := range o.Done {
			if d.Cluster == cluster {
				total++
				perQuery[d.QueryID]++
			}
		}
	})
	return total, perQuery
}

// TestLargeFragmentPlansGoThroughTheObjectStore: with SLUICE_FRAGMENT_PLAN_INLINE=1 every
// fragment plan is too large for its batch, so the scheduler stores each in SLUICE_PLANS
// and the executors read it from there. The plans return DuckDB's rows (an executor that
// ran the empty inline plan would fail them), and the stored plans are deleted when their
// queries end.
func TestLargeFragmentPlansGoThroughTheObjectStore(t *testing.T) {
	f := newFleet(t, 8)
	f.env = append(f.env, "SLUICE_FRAGMENT_PLAN_INLINE=1")
	f.start()
	nc, js := f.js(t)
	defer nc.Close()
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "large", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	for _, n := range []int{1, 3} {
		qr := c.postPlan(shareddata.IsthmusPlan(t, fmt.Sprintf("q%02d", n)), "application/json", nil)
		if qr.Error != nil {
			t.Fatalf("q%02d: %s: %s", n, qr.Error.ErrorName, qr.Error.Message)
		}
		followTPCH(t, c, qr, n, "with its fragment plans in the object store")
	}
	obs, err := js.ObjectStore(t.Context(), events.ObjectPlans)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, "the stored fragment plans deleted", func() bool {
		list, err := obs.List(t.Context())
		if errors.Is(err, jetstream.ErrNoObjectsFound) {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list {
			if strings.Contains(o.Name, "/fragments/") {
				return false
			}
		}
		return true
	})
}
