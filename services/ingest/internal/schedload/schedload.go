// Package schedload follows the fragment scheduler's load (events.SchedulerLoad under
// events.SchedulerLoadKey in the events.BucketScheduler KV bucket) through one KV watch,
// so that ingest can refuse plans while the scheduler's queue is full without reading
// NATS on every request.
package schedload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/configkv"
)

// retryBucket is how often a watcher looks again for a bucket that does not exist yet
// (a deployment older than the scheduler's load reports). A variable for tests.
var retryBucket = 10 * time.Second

// Watcher holds the latest scheduler load. The zero load (no bucket, no key, a deleted
// or undecodable value) is never full.
type Watcher struct {
	mu   sync.RWMutex
	load events.SchedulerLoad
	log  *slog.Logger
}

// Start loads the current value and follows the key until ctx ends. A missing bucket is
// not an error: the watcher reports "not full" and looks for the bucket again every
// few seconds.
func Start(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{log: log}
	kv, err := js.KeyValue(ctx, events.BucketScheduler)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		log.Info("no scheduler load bucket: plans are never refused as QUERY_QUEUE_FULL until it exists", "bucket", events.BucketScheduler)
		go w.awaitBucket(ctx, js)
		return w, nil
	case err != nil:
		return nil, err
	}
	if err := w.follow(ctx, kv); err != nil {
		return nil, err
	}
	return w, nil
}

// StaleAfter: a load older than this is ignored. The scheduler rewrites its load at least
// every 10 s, so an older one comes from a scheduler that stopped, and must not keep plans
// refused.
const StaleAfter = 30 * time.Second

// Load returns the latest load and whether the scheduler is full: its report is not
// stale, and it holds at least MaxQueuedFragments (> 0) fragments or its heap reached
// its memory soft limit (> 0).
func (w *Watcher) Load() (events.SchedulerLoad, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	l := w.load
	fresh := l.At.IsZero() || time.Since(l.At) < StaleAfter
	queueFull := l.MaxQueuedFragments > 0 && l.QueuedFragments >= l.MaxQueuedFragments
	memoryFull := l.MemorySoftLimit > 0 && l.HeapBytes >= l.MemorySoftLimit
	return l, fresh && (queueFull || memoryFull)
}

// follow applies the current value at once, then every change until ctx ends (the watch
// delivers the current value again first, which changes nothing).
func (w *Watcher) follow(ctx context.Context, kv jetstream.KeyValue) error {
	e, err := kv.Get(ctx, events.SchedulerLoadKey)
	switch {
	case err == nil:
		w.apply(e.Value())
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("schedload: %w", err)
	}
	return configkv.Watch(ctx, kv, events.SchedulerLoadKey, false, func(data []byte, _ uint64) { w.apply(data) })
}

// awaitBucket looks for the bucket until it exists, then follows the key.
func (w *Watcher) awaitBucket(ctx context.Context, js jetstream.JetStream) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryBucket):
			if kv, err := js.KeyValue(ctx, events.BucketScheduler); err == nil && w.follow(ctx, kv) == nil {
				return
			}
		}
	}
}

// apply records a value of the key; nil (deleted or purged) or undecodable clears it.
func (w *Watcher) apply(data []byte) {
	var load events.SchedulerLoad
	if data != nil {
		if err := json.Unmarshal(data, &load); err != nil {
			w.log.Warn("undecodable scheduler load: treated as not full", "err", err)
			load = events.SchedulerLoad{}
		}
	}
	w.mu.Lock()
	w.load = load
	w.mu.Unlock()
}
