package state

// recentSet remembers the most recent n strings added: a map with a ring of insertion
// order, evicting the oldest.
type recentSet struct {
	index map[string]struct{}
	ring  []string
	next  int
}

func newRecentSet(n int) recentSet {
	return recentSet{index: make(map[string]struct{}), ring: make([]string, 0, n)}
}

func (r *recentSet) has(id string) bool { _, ok := r.index[id]; return ok }

func (r *recentSet) add(id string) {
	if r.has(id) {
		return
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, id)
	} else {
		delete(r.index, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % len(r.ring)
	}
	r.index[id] = struct{}{}
}

// each visits the members, oldest first.
func (r *recentSet) each(fn func(string)) {
	for i := range r.ring {
		fn(r.ring[(r.next+i)%len(r.ring)])
	}
}
