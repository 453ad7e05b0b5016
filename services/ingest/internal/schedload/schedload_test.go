package schedload

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

const within = 5 * time.Second

// put stores a load under the scheduler's key.
func put(t *testing.T, kv jetstream.KeyValue, load events.SchedulerLoad) {
	t.Helper()
	b, err := json.Marshal(load)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), events.SchedulerLoadKey, b); err != nil {
		t.Fatal(err)
	}
}

// waitFull waits until the watcher reports full (or not) with queued fragments.
func waitFull(t *testing.T, w *Watcher, full bool, queued int) {
	t.Helper()
	natstest.Eventually(t, within, "the watcher to see the load", func() bool {
		load, f := w.Load()
		return f == full && load.QueuedFragments == queued
	})
}

func TestWatcherFollowsTheLoad(t *testing.T) {
	_, conn := natstest.RunSluice(t)
	kv, err := conn.JS.KeyValue(t.Context(), events.BucketScheduler)
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, events.SchedulerLoad{QueuedFragments: 10, MaxQueuedFragments: 10})
	w, err := Start(t.Context(), conn.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, full := w.Load(); !full {
		t.Fatal("the value stored before Start is not loaded by Start")
	}
	steps := []struct {
		name   string
		load   events.SchedulerLoad
		full   bool
		queued int
	}{
		{"below the limit", events.SchedulerLoad{QueuedFragments: 9, MaxQueuedFragments: 10}, false, 9},
		{"above the limit", events.SchedulerLoad{QueuedFragments: 11, MaxQueuedFragments: 10}, true, 11},
		{"no limit", events.SchedulerLoad{QueuedFragments: 12}, false, 12},
		{"memory at its soft limit", events.SchedulerLoad{QueuedFragments: 1, MaxQueuedFragments: 10, HeapBytes: 2 << 30, MemorySoftLimit: 2 << 30}, true, 1},
		{"memory below its soft limit", events.SchedulerLoad{QueuedFragments: 2, MaxQueuedFragments: 10, HeapBytes: 1 << 30, MemorySoftLimit: 2 << 30}, false, 2},
		{"full but stale: the scheduler stopped", events.SchedulerLoad{QueuedFragments: 13, MaxQueuedFragments: 10, At: time.Now().Add(-time.Minute)}, false, 13},
		{"full and fresh", events.SchedulerLoad{QueuedFragments: 14, MaxQueuedFragments: 10, At: time.Now()}, true, 14},
	}
	for _, s := range steps {
		put(t, kv, s.load)
		waitFull(t, w, s.full, s.queued)
	}
	put(t, kv, events.SchedulerLoad{QueuedFragments: 3, MaxQueuedFragments: 1})
	waitFull(t, w, true, 3)
	if err := kv.Delete(t.Context(), events.SchedulerLoadKey); err != nil {
		t.Fatal(err)
	}
	waitFull(t, w, false, 0)
	put(t, kv, events.SchedulerLoad{QueuedFragments: 1, MaxQueuedFragments: 1})
	waitFull(t, w, true, 1)
	if _, err := kv.Put(t.Context(), events.SchedulerLoadKey, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	waitFull(t, w, false, 0)
}

// TestWatcherWithoutBucket: a deployment without the bucket is never full, and the
// watcher follows the bucket once it appears.
func TestWatcherWithoutBucket(t *testing.T) {
	retryBucket = 20 * time.Millisecond
	_, conn := natstest.RunJetStream(t)
	w, err := Start(t.Context(), conn.JS, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, full := w.Load(); full {
		t.Fatal("full without a bucket")
	}
	kv, err := conn.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: events.BucketScheduler, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, events.SchedulerLoad{QueuedFragments: 5, MaxQueuedFragments: 5})
	waitFull(t, w, true, 5)
}
