// Package natstest is the test harness for code that talks to NATS: a real embedded
// nats-server with JetStream on file storage in a per-test directory, and a polling helper
// that waits for a condition with a deadline instead of sleeping.
//
// It is imported by tests only, but lives in a non-test file so that every module of the
// workspace can share it.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluicehq/sluice/events"

	"github.com/sluicehq/sluice/pkg/natsutil"
)

// RunJetStream starts an in-process nats-server with JetStream on file storage (synced on
// every write, as in production) in t.TempDir(), without a network listener, and returns it
// with a connection to it. t.Cleanup closes the connection and shuts the server down.
func RunJetStream(t testing.TB) (*server.Server, *natsutil.Conn) {
	t.Helper()
	ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: t.TempDir(), DontListen: true, Name: "natstest"})
	if err != nil {
		t.Fatalf("natstest: start nats-server: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns, Connect(t, ns)
}

// RunSluice is RunJetStream with Sluice's streams, buckets and object stores created
// (events.DefaultTopology).
func RunSluice(t testing.TB) (*server.Server, *natsutil.Conn) {
	t.Helper()
	ns, conn := RunJetStream(t)
	if err := events.DefaultTopology().Ensure(t.Context(), conn.JS); err != nil {
		t.Fatalf("natstest: ensure the topology: %v", err)
	}
	return ns, conn
}

// Connect opens one more in-process connection to ns, named after the test; t.Cleanup
// closes it.
func Connect(t testing.TB, ns *server.Server) *natsutil.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := natsutil.Connect(ctx, "", ns, t.Name())
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// DefaultPoll is how often Eventually evaluates its condition.
const DefaultPoll = 10 * time.Millisecond

// Eventually evaluates cond at once and then every DefaultPoll until it returns true, and
// fails the test with "timed out after <within> waiting for <what>" if within passes first.
// Like t.Fatal, it must be called from the goroutine running the test.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if cond() {
		return
	}
	tick := time.NewTicker(DefaultPoll)
	defer tick.Stop()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline.C:
			// One last look: the condition may have become true while the timer fired.
			if cond() {
				return
			}
			t.Fatalf("timed out after %v waiting for %s", within, what)
			return
		}
	}
}

// Receive waits up to within for a value on ch and fails the test if none arrives or ch is
// closed; it returns the value.
func Receive[T any](t testing.TB, within time.Duration, what string, ch <-chan T) T {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-deadline.C:
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
	var zero T
	return zero
}

// Closed waits up to within for ch to be closed (or to deliver) and fails the test
// otherwise.
func Closed[T any](t testing.TB, within time.Duration, what string, ch <-chan T) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	select {
	case <-ch:
	case <-deadline.C:
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}
