package results

import (
	"sync"
	"time"
)

// Store indexes the result buffers of an executor-proxy by query ID.
type Store struct {
	mu      sync.Mutex
	queries map[string]*Query
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{queries: map[string]*Query{}} }

// Add registers q; it returns false when a query with the same ID is already present.
func (s *Store) Add(q *Query) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queries[q.ID]; ok {
		return false
	}
	s.queries[q.ID] = q
	return true
}

// Get returns the buffer of id.
func (s *Store) Get(id string) (*Query, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queries[id]
	return q, ok
}

// Remove drops id.
func (s *Store) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.queries, id)
}

// Expire removes finished queries whose final page was served more than grace ago, and
// returns the queries no client polled for clientTimeout (the caller abandons them).
func (s *Store) Expire(now time.Time, grace, clientTimeout time.Duration) (abandoned []*Query) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, q := range s.queries {
		idle, final := q.Idle(now)
		switch {
		case final && idle > grace:
			delete(s.queries, id)
		case idle > clientTimeout:
			delete(s.queries, id)
			abandoned = append(abandoned, q)
		}
	}
	return abandoned
}

// Len is the number of buffers held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}
