package results

import (
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
)

func TestStoreAddGetRemove(t *testing.T) {
	t.Parallel()
	s := NewStore()
	q := NewQuery("a", events.ProtocolTrino, 1, nil)
	if !s.Add(q) {
		t.Fatal("Add of a new query failed")
	}
	if s.Add(NewQuery("a", events.ProtocolTrino, 1, nil)) {
		t.Fatal("Add accepted a second query with the same ID")
	}
	if got, ok := s.Get("a"); !ok || got != q {
		t.Fatalf("Get(a) = %v, %v; want the first query", got, ok)
	}
	if _, ok := s.Get("b"); ok {
		t.Fatal("Get of an unknown ID succeeded")
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	s.Remove("a")
	s.Remove("a")
	if _, ok := s.Get("a"); ok || s.Len() != 0 {
		t.Fatalf("after Remove: Get ok=%v Len=%d", ok, s.Len())
	}
}

func TestStoreExpire(t *testing.T) {
	t.Parallel()
	s := NewStore()
	// served: finished and its final page was fetched.
	served := NewQuery("served", events.ProtocolTrino, 1<<20, nil)
	served.Start()
	served.SetColumns(cols)
	served.Finish(nil)
	if code, _ := served.Page(t.Context(), 0, time.Second, 1<<20, base); code != http.StatusOK {
		t.Fatal("final page not served")
	}
	// unread: finished, but nobody fetched the final page.
	unread := NewQuery("unread", events.ProtocolTrino, 1<<20, nil)
	unread.Finish(nil)
	// active: running, polled.
	active := NewQuery("active", events.ProtocolTrino, 1<<20, nil)
	active.Start()
	for _, q := range []*Query{served, unread, active} {
		s.Add(q)
	}
	const grace, clientTimeout = time.Minute, 5 * time.Minute
	start := time.Now()
	ids := func(qs []*Query) []string {
		var out []string
		for _, q := range qs {
			out = append(out, q.ID)
		}
		sort.Strings(out)
		return out
	}
	present := func() []string {
		var out []string
		for _, id := range []string{"active", "served", "unread"} {
			if _, ok := s.Get(id); ok {
				out = append(out, id)
			}
		}
		return out
	}

	if ab := s.Expire(start.Add(30*time.Second), grace, clientTimeout); len(ab) != 0 || s.Len() != 3 {
		t.Fatalf("within grace: abandoned %v, %d left", ids(ab), s.Len())
	}
	if ab := s.Expire(start.Add(2*time.Minute), grace, clientTimeout); len(ab) != 0 {
		t.Fatalf("after grace: abandoned %v, want none", ids(ab))
	}
	if got := present(); !slices.Equal(got, []string{"active", "unread"}) {
		t.Fatalf("after grace: %v left, want the served query dropped", got)
	}
	ab := s.Expire(start.Add(10*time.Minute), grace, clientTimeout)
	if got := ids(ab); !slices.Equal(got, []string{"active", "unread"}) {
		t.Fatalf("after the client timeout: abandoned %v, want active and unread", got)
	}
	if s.Len() != 0 {
		t.Fatalf("%d left after everything expired", s.Len())
	}
}

func TestPollingKeepsQueryAlive(t *testing.T) {
	t.Parallel()
	s := NewStore()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
	q.Start()
	s.Add(q)
	// A poll refreshes the last access: idle time is measured from it.
	if code, _ := q.Page(t.Context(), 0, time.Millisecond, 1<<20, base); code != http.StatusOK {
		t.Fatal("poll failed")
	}
	polled := time.Now()
	idle, final := q.Idle(polled.Add(time.Minute))
	if final || idle < time.Minute || idle > time.Minute+5*time.Second {
		t.Fatalf("Idle = %s, %v; want about a minute, not final", idle, final)
	}
	if ab := s.Expire(polled.Add(4*time.Minute), time.Minute, 5*time.Minute); len(ab) != 0 || s.Len() != 1 {
		t.Fatalf("a query polled 4 minutes ago was expired (timeout 5m)")
	}
}
