package api

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/events"
)

// statusLookupWait is how long a status request waits for a query this replica has not
// seen yet (the projector may lag behind another replica's submit).
const statusLookupWait = 200 * time.Millisecond

// maxTouchEvery bounds how long a status wait goes without counting as a poll.
const maxTouchEvery = 10 * time.Second

// Status returns the query's status from the status view, the one queued polls answer
// from. Asking counts as a poll of the query: a queued query whose client asks for its
// status is not abandoned.
func (s *Server) Status(ctx context.Context, id string) (*events.QueryStatus, bool) {
	st, ok := s.lookup(ctx, id, time.Now().Add(statusLookupWait))
	if ok {
		s.touch(id)
	}
	return st, ok
}

// WaitEnded blocks until the query ended (finished, failed or canceled), the deadline
// passes or ctx ends, and returns its latest status. The wait counts as polls of the query
// often enough that it is not abandoned meanwhile.
func (s *Server) WaitEnded(ctx context.Context, id string, deadline time.Time) (*events.QueryStatus, bool) {
	st, ok := s.Status(ctx, id)
	for ok && !st.State.Terminal() && time.Now().Before(deadline) && ctx.Err() == nil {
		until := time.Now().Add(s.touchEvery())
		if until.After(deadline) {
			until = deadline
		}
		if cur := s.waitUntil(ctx, id, until, ended); cur != nil {
			st = cur
		}
		s.touch(id)
	}
	return st, ok
}

// ended reports whether the query is over.
func ended(st *events.QueryStatus) bool { return st.State.Terminal() }

// touchEvery is how often a long status wait counts as a poll: well within ClientTimeout.
func (s *Server) touchEvery() time.Duration {
	if s.opts.ClientTimeout > 0 {
		return min(maxTouchEvery, s.opts.ClientTimeout/2)
	}
	return maxTouchEvery
}
