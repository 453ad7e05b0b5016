package statusview

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// Cache mirrors the status bucket in memory through one KV watch, and lets a poller wait
// for a query's next change without polling NATS.
type Cache struct {
	mu      sync.Mutex
	status  map[string]*events.QueryStatus
	engine  map[string]string // a Trino coordinator's query ID → Sluice's
	waiters map[string][]chan struct{}
	ready   chan struct{}
	watch   jetstream.KeyWatcher
}

// StartCache loads the bucket and keeps following it until ctx ends.
func StartCache(ctx context.Context, kv jetstream.KeyValue) (*Cache, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("statusview: watch: %w", err)
	}
	c := &Cache{
		status:  map[string]*events.QueryStatus{},
		engine:  map[string]string{},
		waiters: map[string][]chan struct{}{},
		ready:   make(chan struct{}),
		watch:   w,
	}
	go c.run(ctx)
	return c, nil
}

func (c *Cache) run(ctx context.Context) {
	readyClosed := false
	defer func() { _ = c.watch.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-c.watch.Updates():
			if !ok {
				return
			}
			if e == nil {
				if !readyClosed {
					close(c.ready)
					readyClosed = true
				}
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				c.mu.Lock()
				if st, ok := c.status[e.Key()]; ok && st.EngineQueryID != "" {
					delete(c.engine, st.EngineQueryID)
				}
				delete(c.status, e.Key())
				c.mu.Unlock()
				continue
			}
			st, err := decode(e.Value())
			if err != nil {
				continue
			}
			c.Offer(st)
		}
	}
}

// Ready is closed once the initial contents of the bucket are loaded.
func (c *Cache) Ready() <-chan struct{} { return c.ready }

// Offer records st if it is newer than what the cache holds and wakes waiters. Ingest also
// offers the QUEUED status of a query it just accepted, so that its first poll does not
// depend on the projector's lag.
func (c *Cache) Offer(st *events.QueryStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := st.Query.ID
	if cur, ok := c.status[id]; ok && cur.Seq > st.Seq {
		return
	}
	if cur, ok := c.status[id]; ok && cur.Seq == st.Seq && cur.State == st.State && cur.CancelRequested == st.CancelRequested {
		return
	}
	c.status[id] = st
	if st.EngineQueryID != "" {
		c.engine[st.EngineQueryID] = id
	}
	for _, ch := range c.waiters[id] {
		close(ch)
	}
	delete(c.waiters, id)
}

// Get returns the cached status of id.
func (c *Cache) Get(id string) (*events.QueryStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.status[id]
	return st, ok
}

// Resolve maps the query ID a Trino coordinator gave a query to Sluice's ID (clients that
// read the ID from a coordinator's page send that one to /v1/query/{id}); other IDs are
// returned as they are.
func (c *Cache) Resolve(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sluiceID, ok := c.engine[id]; ok {
		return sluiceID
	}
	return id
}

// Changed returns a channel closed at the next change of id.
func (c *Cache) Changed(id string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	c.waiters[id] = append(c.waiters[id], ch)
	return ch
}

// Forget drops a waiter channel that is no longer needed (the poll timed out).
func (c *Cache) Forget(id string, ch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.waiters, id)
	} else {
		c.waiters[id] = ws
	}
}
