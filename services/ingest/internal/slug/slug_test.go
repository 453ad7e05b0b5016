package slug

import (
	"regexp"
	"testing"
	"time"
)

var (
	idFormat     = regexp.MustCompile(`^\d{8}_\d{6}_\d{5}_[a-z0-9]{5}$`)
	queuedFormat = regexp.MustCompile(`^y[0-9a-f]{32}$`)
	queryFormat  = regexp.MustCompile(`^x[0-9a-f]{32}$`)
)

func TestNewIDFormatAndUniqueness(t *testing.T) {
	t.Parallel()
	frozen := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	cases := []struct {
		name string
		now  func() time.Time
	}{
		{"wall clock", time.Now},
		// Even with a clock that never moves, 10,000 IDs are distinct.
		{"frozen clock", func() time.Time { return frozen }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := NewMinter([]byte("secret"))
			m.now = tc.now
			seen := make(map[string]struct{}, 10000)
			for range 10000 {
				id := m.NewID()
				if !idFormat.MatchString(id) {
					t.Fatalf("id %q does not match %s", id, idFormat)
				}
				if _, dup := seen[id]; dup {
					t.Fatalf("duplicate id %q after %d mints", id, len(seen))
				}
				seen[id] = struct{}{}
			}
		})
	}
}

func TestNewIDUsesUTCAndReplicaTag(t *testing.T) {
	t.Parallel()
	m := NewMinter([]byte("secret"))
	m.now = func() time.Time { return time.Date(2026, 3, 4, 0, 30, 7, 0, time.FixedZone("X", 2*3600)) }
	id := m.NewID()
	if got, want := id[:15], "20260303_223007"; got != want {
		t.Fatalf("timestamp part %q, want %q (UTC)", got, want)
	}
	if got := id[len(id)-5:]; got != m.tag {
		t.Fatalf("replica tag %q, want %q", got, m.tag)
	}
	if id2 := m.NewID(); id2[len(id2)-5:] != m.tag {
		t.Fatalf("tag changed between mints: %q then %q", id, id2)
	}
}

func TestSlugsVerifyOnlyForTheirInputs(t *testing.T) {
	t.Parallel()
	m := NewMinter([]byte("secret-1"))
	same := NewMinter([]byte("secret-1")) // another replica sharing the secret
	other := NewMinter([]byte("secret-2"))
	const id, id2 = "20260101_000000_00001_abcde", "20260101_000000_00002_abcde"

	queued := m.Queued(id, 7)
	if !queuedFormat.MatchString(queued) {
		t.Fatalf("queued slug %q does not match %s", queued, queuedFormat)
	}
	query := m.Query(id)
	if !queryFormat.MatchString(query) {
		t.Fatalf("query slug %q does not match %s", query, queryFormat)
	}

	queuedCases := []struct {
		name  string
		m     *Minter
		id    string
		token uint64
		slug  string
		want  bool
	}{
		{"right id, token and secret", m, id, 7, queued, true},
		{"another replica with the same secret", same, id, 7, queued, true},
		{"other token", m, id, 8, queued, false},
		{"other id", m, id2, 7, queued, false},
		{"other secret", other, id, 7, queued, false},
		{"query slug used as queued slug", m, id, 7, query, false},
		{"empty slug", m, id, 7, "", false},
		{"truncated slug", m, id, 7, queued[:len(queued)-1], false},
	}
	for _, tc := range queuedCases {
		if got := tc.m.CheckQueued(tc.id, tc.token, tc.slug); got != tc.want {
			t.Errorf("CheckQueued: %s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	queryCases := []struct {
		name string
		m    *Minter
		id   string
		slug string
		want bool
	}{
		{"right id and secret", m, id, query, true},
		{"another replica with the same secret", same, id, query, true},
		{"other id", m, id2, query, false},
		{"other secret", other, id, query, false},
		{"queued slug used as query slug", m, id, queued, false},
		{"empty slug", m, id, "", false},
	}
	for _, tc := range queryCases {
		if got := tc.m.CheckQuery(tc.id, tc.slug); got != tc.want {
			t.Errorf("CheckQuery: %s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSlugsDependOnSecretAndInputs(t *testing.T) {
	t.Parallel()
	a, b := NewMinter([]byte("a")), NewMinter([]byte("b"))
	const id = "20260101_000000_00001_abcde"
	if a.Queued(id, 1) == b.Queued(id, 1) {
		t.Error("different secrets give the same queued slug")
	}
	if a.Query(id) == b.Query(id) {
		t.Error("different secrets give the same query slug")
	}
	if a.Queued(id, 1) == a.Queued(id, 2) {
		t.Error("different tokens give the same queued slug")
	}
	// Another replica with the same secret mints the same slugs.
	a2 := NewMinter([]byte("a"))
	if a.Queued(id, 1) != a2.Queued(id, 1) || a.Query(id) != a2.Query(id) {
		t.Error("slugs are not deterministic across replicas sharing a secret")
	}
	// The parts are separated, so (id, token) pairs that concatenate alike do not collide.
	if a.Queued("q1", 23) == a.Queued("q12", 3) {
		t.Error("ambiguous concatenation: Queued(q1, 23) == Queued(q12, 3)")
	}
}
