package follow_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/natsutil"
)

const stream = "LOG"

// seen is what a handler observed, in call order.
type seen struct {
	mu   sync.Mutex
	msgs []string // "<seq> <subject> <data>"
	seqs []uint64
}

func (s *seen) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, fmt.Sprintf("%d %s %s", md.Sequence.Stream, msg.Subject(), msg.Data()))
	s.seqs = append(s.seqs, md.Sequence.Stream)
}

func (s *seen) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *seen) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

func newStream(t *testing.T) *natsutil.Conn {
	t.Helper()
	_, conn := natstest.RunJetStream(t)
	if _, err := conn.JS.CreateStream(t.Context(), jetstream.StreamConfig{
		Name:     stream,
		Subjects: []string{"log.>"},
		Storage:  jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	return conn
}

// publish writes data on subject and returns the expected handler record for it.
func publish(t *testing.T, conn *natsutil.Conn, subject, data string) string {
	t.Helper()
	ack, err := conn.JS.Publish(t.Context(), subject, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s %s", ack.Sequence, subject, data)
}

// TestFollowReplaysThenFollows: a follower started on a stream with history handles every
// matching message written before it started, in stream order, before CaughtUp closes; then
// it keeps handling new matching messages and ignores the others.
func TestFollowReplaysThenFollows(t *testing.T) {
	t.Parallel()
	conn := newStream(t)

	var want []string
	for i := range 20 {
		if i%3 == 0 {
			publish(t, conn, "log.other", fmt.Sprintf("x%d", i)) // filtered out
			continue
		}
		subj := "log.a"
		if i%2 == 0 {
			subj = "log.b"
		}
		want = append(want, publish(t, conn, subj, fmt.Sprintf("m%d", i)))
	}

	s := &seen{}
	f, err := follow.Start(t.Context(), conn.JS, stream, []string{"log.a", "log.b"}, s.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)

	natstest.Closed(t, 5*time.Second, "CaughtUp", f.CaughtUp())
	// Closing CaughtUp happens after the last pre-existing message was handled.
	if got := s.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("handled when caught up:\n got %q\nwant %q", got, want)
	}

	// Following: new messages arrive after the replay, filtered, in order.
	want = append(want, publish(t, conn, "log.a", "new1"))
	publish(t, conn, "log.other", "ignored")
	want = append(want, publish(t, conn, "log.b", "new2"))
	want = append(want, publish(t, conn, "log.a", "new3"))
	natstest.Eventually(t, 5*time.Second, "the new messages", func() bool { return s.len() >= len(want) })
	if got := s.snapshot(); !slices.Equal(got, want) {
		t.Errorf("handled:\n got %q\nwant %q", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.IsSorted(s.seqs) {
		t.Errorf("handled out of stream order: %v", s.seqs)
	}
}

// TestFollowCaughtUpWithoutHistory: CaughtUp is closed at once when nothing matching was
// written before start, whether the stream is empty or holds only other subjects.
func TestFollowCaughtUpWithoutHistory(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		history []string
	}{
		{name: "empty stream"},
		{name: "only other subjects", history: []string{"log.other", "log.other", "log.zzz"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := newStream(t)
			for _, subj := range c.history {
				publish(t, conn, subj, "h")
			}
			s := &seen{}
			f, err := follow.Start(t.Context(), conn.JS, stream, []string{"log.a"}, s.handle)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(f.Stop)
			select {
			case <-f.CaughtUp():
			default:
				t.Fatalf("CaughtUp not closed when Start returned")
			}
			if n := s.len(); n != 0 {
				t.Fatalf("handled %d messages from an empty history", n)
			}
			want := publish(t, conn, "log.a", "first")
			natstest.Eventually(t, 5*time.Second, "the first message", func() bool { return s.len() == 1 })
			if got := s.snapshot(); got[0] != want {
				t.Errorf("handled %q, want %q", got[0], want)
			}
		})
	}
}

// TestFollowNotCaughtUpBeforeHistory checks CaughtUp stays open while the handler is still
// working through the history: the handler blocks on the first message and CaughtUp must not
// be closed until it is released.
func TestFollowNotCaughtUpBeforeHistory(t *testing.T) {
	t.Parallel()
	conn := newStream(t)
	for i := range 5 {
		publish(t, conn, "log.a", fmt.Sprintf("m%d", i))
	}
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s := &seen{}
	f, err := follow.Start(t.Context(), conn.JS, stream, nil, func(msg jetstream.Msg) {
		select {
		case entered <- struct{}{}:
			<-release // hold the first message
		default:
		}
		s.handle(msg)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	natstest.Receive(t, 5*time.Second, "the first message", entered)
	select {
	case <-f.CaughtUp():
		t.Fatalf("CaughtUp closed while the first of 5 messages was being handled")
	default:
	}
	close(release)
	natstest.Closed(t, 5*time.Second, "CaughtUp", f.CaughtUp())
	if n := s.len(); n != 5 {
		t.Errorf("handled %d messages when caught up, want 5", n)
	}
}

func TestFollowUnknownStream(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunJetStream(t)
	if f, err := follow.Start(t.Context(), conn.JS, "NOPE", nil, func(jetstream.Msg) {}); err == nil {
		f.Stop()
		t.Fatal("Start on a missing stream succeeded")
	}
}

// TestFollowStartAt: a follower started at a sequence handles the matching messages from
// there on, none before it, and catches up; started past the end it is caught up at once.
func TestFollowStartAt(t *testing.T) {
	t.Parallel()
	conn := newStream(t)
	var all []string
	for i := range 10 {
		all = append(all, publish(t, conn, "log.a", fmt.Sprintf("m%d", i)))
	}
	s := &seen{}
	f, err := follow.StartAt(t.Context(), conn.JS, stream, []string{"log.a"}, 7, s.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	natstest.Closed(t, 5*time.Second, "CaughtUp", f.CaughtUp())
	if got := s.snapshot(); !slices.Equal(got, all[6:]) {
		t.Fatalf("handled from sequence 7:\n got %q\nwant %q", got, all[6:])
	}

	past := &seen{}
	f2, err := follow.StartAt(t.Context(), conn.JS, stream, []string{"log.a"}, 11, past.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f2.Stop)
	natstest.Closed(t, 5*time.Second, "CaughtUp past the end", f2.CaughtUp())
	next := publish(t, conn, "log.a", "new")
	natstest.Eventually(t, 5*time.Second, "the new message", func() bool { return past.len() == 1 })
	if got := past.snapshot(); got[0] != next {
		t.Fatalf("handled %q, want %q", got, next)
	}
}
