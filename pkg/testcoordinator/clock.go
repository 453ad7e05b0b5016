package testcoordinator

import (
	"sync"
	"time"
)

// Clock is the coordinator's source of time. Query durations, timestamps and elapsed times
// are measured on it; long polls still wait in real time, at most Options.MaxWait.
type Clock interface {
	Now() time.Time
}

// clockNotifier is implemented by clocks that can wake long polls when the time moves.
type clockNotifier interface {
	Changed() <-chan struct{}
}

// realClock is time.Now.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when Advance is called, so tests can run queries
// with a Duration without sleeping. Advance also wakes the coordinator's long polls.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	changed chan struct{}
}

// NewManualClock returns a ManualClock that reads start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (m *ManualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d and wakes everything waiting on Changed.
func (m *ManualClock) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	close(m.changed)
	m.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next Advance.
func (m *ManualClock) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}
