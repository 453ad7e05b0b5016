package natsutil_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/natsutil"
)

func TestStartServerRequiresStoreDir(t *testing.T) {
	t.Parallel()
	ns, err := natsutil.StartServer(natsutil.ServerOptions{DontListen: true})
	if err == nil {
		ns.Shutdown()
		t.Fatal("StartServer without StoreDir succeeded")
	}
}

func TestStartServerSyncsEveryWrite(t *testing.T) {
	t.Parallel()
	ns, conn := natstest.RunJetStream(t)
	cfg := ns.JetStreamConfig()
	if cfg == nil {
		t.Fatal("JetStream not enabled")
	}
	if !cfg.SyncAlways {
		t.Errorf("SyncAlways = false: acknowledged writes could be lost on a crash")
	}
	if _, err := conn.JS.AccountInfo(t.Context()); err != nil {
		t.Errorf("JetStream does not answer: %v", err)
	}
}

// start is StartServer on dir for the restart test; the caller shuts it down.
func start(t *testing.T, dir string) (*server.Server, *natsutil.Conn) {
	t.Helper()
	ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: dir, DontListen: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := natsutil.Connect(ctx, "", ns, t.Name())
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	return ns, conn
}

func stop(ns *server.Server, conn *natsutil.Conn) {
	conn.Close()
	ns.Shutdown()
	ns.WaitForShutdown()
}

// TestStreamSurvivesRestart: what JetStream acknowledged is still there after the server
// stops and starts again on the same store directory (DESIGN invariants 1 and 5), and so is
// its dedup state: a publisher retrying after the restart is still recognised (invariant 2).
func TestStreamSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()

	ns, conn := start(t, dir)
	if _, err := conn.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name:       "DURABLE",
		Subjects:   []string{"durable.>"},
		Storage:    jetstream.FileStorage,
		Duplicates: time.Hour,
	}); err != nil {
		stop(ns, conn)
		t.Fatal(err)
	}
	ack, err := conn.JS.Publish(ctx, "durable.q1", []byte("acknowledged"), jetstream.WithMsgID("q1:submitted"))
	if err != nil {
		stop(ns, conn)
		t.Fatal(err)
	}
	stop(ns, conn)

	ns, conn = start(t, dir)
	t.Cleanup(func() { stop(ns, conn) })
	s, err := conn.JS.Stream(ctx, "DURABLE")
	if err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || info.State.LastSeq != ack.Sequence {
		t.Fatalf("after restart: %d messages, last seq %d; want 1, %d", info.State.Msgs, info.State.LastSeq, ack.Sequence)
	}
	raw, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.Data) != "acknowledged" || raw.Subject != "durable.q1" {
		t.Errorf("after restart: %s %q", raw.Subject, raw.Data)
	}

	again, err := conn.JS.Publish(ctx, "durable.q1", []byte("retry"), jetstream.WithMsgID("q1:submitted"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Sequence != ack.Sequence {
		t.Errorf("retry after restart: duplicate=%v seq=%d, want duplicate of seq %d", again.Duplicate, again.Sequence, ack.Sequence)
	}
}

// TestConnectGivesUpWhenContextEnds: Connect retries an unreachable server until its context
// ends, then reports the context's error.
func TestConnectGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	conn, err := natsutil.Connect(ctx, "nats://127.0.0.1:1", nil, "unreachable")
	if err == nil {
		conn.Close()
		t.Fatal("Connect to an unreachable server succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect error = %v, want context.DeadlineExceeded", err)
	}
}

func TestConnCloseNil(t *testing.T) {
	t.Parallel()
	var c *natsutil.Conn
	c.Close() // must not panic
	(&natsutil.Conn{}).Close()
}
