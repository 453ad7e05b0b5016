package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/sluicehq/sluice/pkg/natstest"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// fleet is Sluice run as separate OS processes: NATS, ingest, admission, placement,
// scheduler and two executor-proxies.
type fleet struct {
	t        *testing.T
	dir      string
	natsPort int
	httpAddr string
	procs    map[string]*exec.Cmd
	env      []string
	// admissions names the admission replicas (each its own process, identity = name).
	admissions []string
	// clusterEnv is extra environment of one cluster's executor-proxy, by name.
	clusterEnv map[string][]string
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newFleet(t *testing.T, maxRunning int) *fleet {
	f := &fleet{t: t, dir: newDataDir(t), procs: map[string]*exec.Cmd{}, admissions: []string{"admission"}}
	f.natsPort = freePort(t)
	f.httpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f.env = []string{
		"SLUICE_NATS_URL=" + f.natsURL(),
		"SLUICE_HTTP_ADDR=" + f.httpAddr,
		"SLUICE_DATA_DIR=" + f.dir,
		"SLUICE_MAX_RUNNING=" + strconv.Itoa(maxRunning),
		"SLUICE_SLOTS=2",
		"SLUICE_EXECUTOR_HTTP_ADDR=127.0.0.1:0",
		"SLUICE_FRAGMENT_ACK_WAIT=1s",
		"SLUICE_PLACEMENT_ACK_WAIT=2s",
		"SLUICE_SCHEDULER_ACK_WAIT=2s",
		"SLUICE_NATS_STORE_DIR=" + filepath.Join(f.dir, "nats"),
		"SLUICE_NATS_LISTEN=" + fmt.Sprintf("127.0.0.1:%d", f.natsPort),
	}
	t.Cleanup(f.stop)
	return f
}

func (f *fleet) natsURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", f.natsPort) }

// start launches every process and waits until a query runs end to end.
func (f *fleet) start() {
	f.t.Helper()
	f.spawn("nats", nil, "nats")
	f.waitFor("nats", "nats ready")
	f.spawn("ingest", nil, "ingest")
	for _, name := range f.admissions {
		f.spawn(name, []string{"SLUICE_ADMISSION_ID=" + name}, "admission")
	}
	f.spawn("placement", nil, "placement")
	f.spawn("scheduler", nil, "scheduler")
	f.spawn("local-1", append([]string{"SLUICE_CLUSTER=local-1"}, f.clusterEnv["local-1"]...), "executor-proxy")
	f.spawn("local-2", append([]string{"SLUICE_CLUSTER=local-2"}, f.clusterEnv["local-2"]...), "executor-proxy")
	natstest.Eventually(f.t, 60*time.Second, "ingest answering", func() bool {
		resp, err := http.Get("http://" + f.httpAddr + "/v1/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// Queries submitted before both clusters have registered would all go to the first.
	natstest.Eventually(f.t, 60*time.Second, "both clusters ready", func() bool {
		return f.clusterState(f.t, "local-1") == "ready" && f.clusterState(f.t, "local-2") == "ready"
	})
}

func (f *fleet) spawn(name string, extraEnv []string, args ...string) {
	f.t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Env = append(append(os.Environ(), f.env...), extraEnv...)
	logf, err := os.OpenFile(filepath.Join(f.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	cmd.Stderr = logf
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	f.procs[name] = cmd
}

// waitFor waits until the process log contains line.
func (f *fleet) waitFor(name, line string) {
	f.t.Helper()
	natstest.Eventually(f.t, 30*time.Second, name+" to print "+line, func() bool {
		b, _ := os.ReadFile(filepath.Join(f.dir, name+".log"))
		return strings.Contains(string(b), line)
	})
}

// kill sends SIGKILL to every process and reaps them.
func (f *fleet) kill() {
	for _, p := range f.procs {
		_ = p.Process.Signal(syscall.SIGKILL)
	}
	for name, p := range f.procs {
		_ = p.Wait()
		delete(f.procs, name)
	}
}

// stop ends every process with SIGTERM (SIGKILL after 10 s).
func (f *fleet) stop() {
	for _, p := range f.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for name, p := range f.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
			f.t.Errorf("%s did not stop on SIGTERM within 10s", name)
		}
		delete(f.procs, name)
	}
	if f.t.Failed() {
		for _, name := range append(append([]string{"nats", "ingest"}, f.admissions...), "placement", "scheduler", "local-1", "local-2") {
			b, _ := os.ReadFile(filepath.Join(f.dir, name+".log"))
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			f.t.Logf("--- %s.log (tail) ---\n%s", name, b)
		}
	}
}

func (f *fleet) js(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(f.natsURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// countSubject returns how many messages the QUERIES stream holds on subject.
func countSubject(t *testing.T, js jetstream.JetStream, subject string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamQueries)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return -1
	}
	return int(info.State.Subjects[subject])
}

type logEvent struct {
	subject string
	id      string
}

// eachOutcomes calls fn with every report of fragment outcomes in FRAGMENT_STATUS.
func eachOutcomes(t *testing.T, js jetstream.JetStream, fn func(events.FragmentOutcomes)) {
	t.Helper()
	eachEvent(t, js, []string{events.SubjectFragmentOutcomes}, func(m jetstream.Msg) bool {
		var o events.FragmentOutcomes
		if _, err := events.Decode(m.Headers(), m.Data(), events.TypeFragmentOutcomes, &o); err != nil {
			t.Fatal(err)
		}
		fn(o)
		return true
	})
}

// eachEvent calls fn with every event of the QUERIES stream on subjects (all when none),
// or of FRAGMENT_STATUS for its subjects, in stream order, until fn returns false or the
// log's end.
func eachEvent(t *testing.T, js jetstream.JetStream, subjects []string, fn func(jetstream.Msg) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An ephemeral consumer deleted after the read: tests poll the log in loops, and
	// lingering consumers would hit the stream's consumer limit.
	stream := events.StreamQueries
	if len(subjects) > 0 && strings.HasPrefix(subjects[0], "sluice.fragment-status.") {
		stream = events.StreamFragmentStatus
	}
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{FilterSubjects: subjects,
		AckPolicy: jetstream.AckNonePolicy, DeliverPolicy: jetstream.DeliverAllPolicy, MemoryStorage: true, InactiveThreshold: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
	}()
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if !fn(m) {
				return
			}
		}
		if n == 0 {
			return
		}
	}
}

// readLog returns every lifecycle event in stream order.
func readLog(t *testing.T, js jetstream.JetStream) []logEvent {
	t.Helper()
	var out []logEvent
	eachEvent(t, js, nil, func(m jetstream.Msg) bool {
		ev, err := events.Decode(m.Headers(), m.Data(), "", nil)
		if err != nil {
			t.Fatalf("undecodable event on %s: %v", m.Subject(), err)
		}
		out = append(out, logEvent{subject: m.Subject(), id: ev.Subject()})
		return true
	})
	return out
}

// TestSeparateProcessesCrashAndResume runs every service and NATS as its own OS process,
// checks a TPC-H query with trino-go-client, then submits 200 queries under a fleet-wide
// limit of 2, SIGKILLs every process mid-run, restarts them on the same data, and checks
// from the event log that every query was admitted once and finished exactly once, and
// that no more than 2 ever ran at once.
func TestSeparateProcessesCrashAndResume(t *testing.T) {
	const total, limit = 200, 2
	f := newFleet(t, limit)
	f.start()

	db, err := sql.Open("trino", "http://proc@"+f.httpAddr+"?catalog=tpch&schema=tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := queryRows(t, ctx, db, tpchSQL(t, 6, "tpch.tiny."))
	want := queryRows(t, ctx, openDirect(t), tpchSQL(t, 6, "tpch.tiny."))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Q6 through separate processes: %v, want %v", got, want)
	}

	nc, js := f.js(t)
	defer nc.Close()
	base := countSubject(t, js, events.SubjectFinished)
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "crash", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	// Submitted from 20 clients at once: a POST waits for admission's verdict, and one
	// client in a loop would be slower than the queries it submits.
	ids := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 20 {
				qr := c.results(http.MethodPost, c.base+"/v1/statement",
					fmt.Sprintf("SELECT count(*), sum(l_quantity) FROM lineitem, range(3) WHERE l_orderkey %% %d = %d", total, i))
				mu.Lock()
				ids[qr.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	natstest.Eventually(t, 60*time.Second, "some queries finished", func() bool { return countSubject(t, js, events.SubjectFinished)-base >= 20 })
	done := countSubject(t, js, events.SubjectFinished) - base
	nc.Close()
	f.kill()
	if done >= total {
		t.Fatalf("all %d queries finished before the kill; the test did not crash mid-run", total)
	}
	t.Logf("killed every process with %d of %d queries finished", done, total)

	f.start()
	nc2, js2 := f.js(t)
	defer nc2.Close()
	natstest.Eventually(t, 120*time.Second, "every query finished after restart", func() bool {
		return countSubject(t, js2, events.SubjectFinished)-base >= total
	})

	counts := map[string]map[string]int{}
	running, peak := map[string]bool{}, 0
	for _, e := range readLog(t, js2) {
		if !ids[e.id] {
			continue
		}
		if counts[e.id] == nil {
			counts[e.id] = map[string]int{}
		}
		counts[e.id][e.subject]++
		switch {
		case e.subject == events.SubjectAdmitted:
			running[e.id] = true
		case events.IsTerminal(e.subject):
			delete(running, e.id)
		}
		peak = max(peak, len(running))
	}
	if peak > limit {
		t.Errorf("%d queries ran at once; the fleet-wide limit is %d", peak, limit)
	}
	for id := range ids {
		c := counts[id]
		if c[events.SubjectSubmitted] != 1 || c[events.SubjectAdmitted] != 1 || c[events.SubjectFinished] != 1 ||
			c[events.SubjectFailed]+c[events.SubjectCanceled]+c[events.SubjectRejected] != 0 {
			t.Errorf("query %s: events %v; want submitted, admitted and finished exactly once", id, c)
		}
	}
}
