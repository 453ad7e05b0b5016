package natstest_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/natstest"
)

// recorder is a testing.TB whose Fatalf records the failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	t.Parallel()
	t.Run("true at once", func(t *testing.T) {
		t.Parallel()
		r := &recorder{TB: t}
		calls := 0
		natstest.Eventually(r, time.Second, "x", func() bool { calls++; return true })
		if r.failed != "" || calls != 1 {
			t.Errorf("failed=%q calls=%d", r.failed, calls)
		}
	})
	t.Run("becomes true", func(t *testing.T) {
		t.Parallel()
		r := &recorder{TB: t}
		var n atomic.Int32
		natstest.Eventually(r, 5*time.Second, "x", func() bool { return n.Add(1) >= 5 })
		if r.failed != "" || n.Load() != 5 {
			t.Errorf("failed=%q calls=%d", r.failed, n.Load())
		}
	})
	t.Run("times out", func(t *testing.T) {
		t.Parallel()
		r := &recorder{TB: t}
		start := time.Now()
		natstest.Eventually(r, 50*time.Millisecond, "the impossible", func() bool { return false })
		if !strings.Contains(r.failed, "the impossible") {
			t.Errorf("failure %q does not name the condition", r.failed)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
			t.Errorf("gave up after %v", d)
		}
	})
}

func TestReceiveAndClosed(t *testing.T) {
	t.Parallel()
	ch := make(chan int, 1)
	ch <- 7
	r := &recorder{TB: t}
	if v := natstest.Receive(r, time.Second, "a value", ch); v != 7 || r.failed != "" {
		t.Errorf("Receive = %d, failed %q", v, r.failed)
	}
	natstest.Receive(r, 20*time.Millisecond, "nothing", ch)
	if !strings.Contains(r.failed, "nothing") {
		t.Errorf("Receive on an empty channel did not fail: %q", r.failed)
	}
	r.failed = ""
	close(ch)
	natstest.Receive(r, time.Second, "closed", ch)
	if !strings.Contains(r.failed, "closed") {
		t.Errorf("Receive on a closed channel did not fail: %q", r.failed)
	}
	r.failed = ""
	natstest.Closed(r, time.Second, "closed", ch)
	if r.failed != "" {
		t.Errorf("Closed on a closed channel failed: %q", r.failed)
	}
	natstest.Closed(r, 20*time.Millisecond, "open", make(chan struct{}))
	if !strings.Contains(r.failed, "open") {
		t.Errorf("Closed on an open channel did not fail: %q", r.failed)
	}
}

func TestRunJetStream(t *testing.T) {
	t.Parallel()
	ns, conn := natstest.RunJetStream(t)
	if !ns.JetStreamEnabled() || ns.JetStreamConfig().StoreDir == "" {
		t.Fatal("JetStream not enabled on file storage")
	}
	if _, err := conn.JS.AccountInfo(t.Context()); err != nil {
		t.Fatalf("JetStream does not answer: %v", err)
	}
	second := natstest.Connect(t, ns)
	if !second.NC.IsConnected() {
		t.Errorf("second connection not connected")
	}
}
