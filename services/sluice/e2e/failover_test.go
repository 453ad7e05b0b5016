package e2e

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// TestAdmissionFailoverBetweenProcesses runs two admission replicas as separate processes
// under a fleet-wide limit of 1, SIGKILLs the leader while queries queue, and checks from
// the log that the other replica decided within 2 s, that no query was admitted twice and
// that no two ever ran at once.
func TestAdmissionFailoverBetweenProcesses(t *testing.T) {
	const total = 60
	f := newFleet(t, 1)
	f.admissions = []string{"admission-a", "admission-b"}
	f.start()
	nc, js := f.js(t)
	defer nc.Close()
	leases, err := js.KeyValue(context.Background(), events.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	c := rawClient{t: t, base: "http://" + f.httpAddr, headers: map[string]string{"X-Trino-User": "failover", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	for i := 0; i < total; i++ {
		c.results(http.MethodPost, c.base+"/v1/statement", fmt.Sprintf("SELECT count(*) FROM orders WHERE o_orderkey %% %d = %d", total, i))
	}
	natstest.Eventually(t, 60*time.Second, "some queries finished", func() bool { return countSubject(t, js, events.SubjectFinished) >= 10 })
	entry, err := leases.Get(context.Background(), "admission")
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	leader := string(entry.Value())
	proc, ok := f.procs[leader]
	if !ok {
		t.Fatalf("lease held by %q, not an admission process", leader)
	}
	before := countSubject(t, js, events.SubjectAdmitted)
	killedAt := time.Now()
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	delete(f.procs, leader)
	if before >= total {
		t.Fatalf("every query was admitted before the kill; nothing left to fail over")
	}

	natstest.Eventually(t, 120*time.Second, "every query finished", func() bool { return countSubject(t, js, events.SubjectFinished) >= total })
	// The first admission after the kill, and the term marker of the new leader.
	var firstAfter, termAt time.Time
	eachEvent(t, js, []string{events.SubjectAdmitted, events.SubjectAdmissionTerm}, func(m jetstream.Msg) bool {
		ev, err := events.Decode(m.Headers(), m.Data(), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Time().Before(killedAt):
		case m.Subject() == events.SubjectAdmissionTerm && termAt.IsZero():
			termAt = ev.Time()
		case m.Subject() == events.SubjectAdmitted:
			firstAfter = ev.Time()
			return false
		}
		return true
	})
	if firstAfter.IsZero() {
		t.Fatal("no admission after the kill in the log")
	}
	took := firstAfter.Sub(killedAt)
	t.Logf("leader %s killed; new term after %s, first admission after %s", leader, termAt.Sub(killedAt).Round(time.Millisecond), took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the standby decided %s after the leader was killed; want within 2s", took)
	}

	admitted, running, peak := map[string]int{}, map[string]bool{}, 0
	for _, e := range readLog(t, js) {
		switch {
		case e.subject == events.SubjectAdmitted:
			admitted[e.id]++
			running[e.id] = true
			peak = max(peak, len(running))
		case events.IsTerminal(e.subject):
			delete(running, e.id)
		}
	}
	for id, n := range admitted {
		if n != 1 {
			t.Errorf("query %s admitted %d times", id, n)
		}
	}
	if peak > 1 {
		t.Errorf("%d queries held a slot at once; the limit is 1", peak)
	}
	if len(admitted) != total {
		t.Errorf("%d queries admitted, want %d", len(admitted), total)
	}
}
