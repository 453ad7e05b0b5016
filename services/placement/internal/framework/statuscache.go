package framework

import (
	"maps"
	"sync"
	"sync/atomic"
)

// maxCachedStatuses bounds each statusCache; past it, statuses are built every time.
const maxCachedStatuses = 1024

// statusCache memoizes the statuses of a filter whose reason depends only on a small key
// (two routing group names, an engine and a kind, two counts), so that a filter ruling
// out hundreds of clusters per decision does not build the same reason string hundreds
// of times. Reads take no lock: the map is replaced, never modified, on a miss. It is
// safe for concurrent use; the statuses it returns are shared and must not be modified.
type statusCache[K comparable] struct {
	m  atomic.Pointer[map[K]*Status]
	mu sync.Mutex // serializes writers
}

// get returns the status of k, calling build on a miss.
func (c *statusCache[K]) get(k K, build func(K) *Status) *Status {
	if m := c.m.Load(); m != nil {
		if s := (*m)[k]; s != nil {
			return s
		}
	}
	s := build(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= maxCachedStatuses {
		return s
	}
	next := make(map[K]*Status, 1+lenOf(old))
	if old != nil {
		if cached := (*old)[k]; cached != nil {
			return cached
		}
		maps.Copy(next, *old)
	}
	next[k] = s
	c.m.Store(&next)
	return s
}

func lenOf[K comparable](m *map[K]*Status) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
