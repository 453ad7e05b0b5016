package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/lease"
	"github.com/sluicehq/sluice/pkg/natstest"
)

const (
	key   = "admission"
	renew = 100 * time.Millisecond
)

// leasesBucket creates the production lease bucket (TTL = LeaseTTL, limit markers) on a
// fresh embedded JetStream server.
func leasesBucket(t *testing.T) (jetstream.KeyValue, time.Duration) {
	t.Helper()
	_, conn := natstest.RunJetStream(t)
	for _, cfg := range events.DefaultTopology().Buckets() {
		if cfg.Bucket != events.BucketLeases {
			continue
		}
		kv, err := conn.JS.CreateKeyValue(t.Context(), cfg)
		if err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		return kv, cfg.TTL
	}
	t.Fatalf("no %s bucket in the topology", events.BucketLeases)
	return nil, 0
}

// leaders records every term and how many leaders run at once.
type leaders struct {
	active    atomic.Int32
	maxActive atomic.Int32
	terms     chan lease.Term
}

func newLeaders() *leaders { return &leaders{terms: make(chan lease.Term, 64)} }

// lead is a leader that holds its term until its context ends.
func (l *leaders) lead(ctx context.Context, term lease.Term) {
	n := l.active.Add(1)
	for {
		m := l.maxActive.Load()
		if n <= m || l.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	l.terms <- term
	<-ctx.Done()
	l.active.Add(-1)
}

// candidate is one replica campaigning until cancel is called; done yields Campaign's result.
type candidate struct {
	cancel context.CancelFunc
	done   chan error
}

func campaign(t *testing.T, kv jetstream.KeyValue, holder string, lead func(context.Context, lease.Term)) *candidate {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &candidate{cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- lease.Campaign(ctx, kv, key, holder, renew, lead) }()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

// stop cancels the candidate and waits for Campaign to return context.Canceled.
func (c *candidate) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	if err := natstest.Receive(t, 5*time.Second, "Campaign to return", c.done); !errors.Is(err, context.Canceled) {
		t.Errorf("Campaign returned %v, want context.Canceled", err)
	}
	c.done <- nil // for the cleanup
}

func TestCampaignOneLeaderAndFailover(t *testing.T) {
	t.Parallel()
	kv, ttl := leasesBucket(t)
	l := newLeaders()
	cands := map[string]*candidate{
		"a": campaign(t, kv, "a", l.lead),
		"b": campaign(t, kv, "b", l.lead),
	}
	other := map[string]string{"a": "b", "b": "a"}

	first := natstest.Receive(t, 5*time.Second, "a first leader", l.terms)
	if first.Holder != "a" && first.Holder != "b" {
		t.Fatalf("leader %q is not a candidate", first.Holder)
	}
	if first.Revision == 0 {
		t.Fatalf("term has no fencing revision")
	}
	// Let the leader renew a few times: the key keeps its value, its revision moves on, and
	// the other candidate does not lead meanwhile.
	natstest.Eventually(t, 5*time.Second, "three renewals", func() bool {
		e, err := kv.Get(t.Context(), key)
		return err == nil && string(e.Value()) == first.Holder && e.Revision() >= first.Revision+3
	})
	if len(l.terms) != 0 || l.active.Load() != 1 {
		t.Fatalf("second leader while %s renews: %d queued terms, %d active", first.Holder, len(l.terms), l.active.Load())
	}

	// The leader goes away; the other takes over well within one lease TTL, because the
	// leader frees the key as it steps down.
	start := time.Now()
	cands[first.Holder].stop(t)
	second := natstest.Receive(t, ttl, "the other candidate to take over", l.terms)
	if second.Holder != other[first.Holder] {
		t.Errorf("second term held by %q, want %q", second.Holder, other[first.Holder])
	}
	if second.Revision <= first.Revision {
		t.Errorf("second term revision %d, want > %d", second.Revision, first.Revision)
	}
	t.Logf("takeover after %v", time.Since(start))

	// The first replica comes back and the second one leaves: a third term, later revision.
	cands[first.Holder] = campaign(t, kv, first.Holder, l.lead)
	cands[second.Holder].stop(t)
	third := natstest.Receive(t, ttl, "the restarted candidate to take over", l.terms)
	if third.Holder != first.Holder {
		t.Errorf("third term held by %q, want %q", third.Holder, first.Holder)
	}
	if third.Revision <= second.Revision {
		t.Errorf("third term revision %d, want > %d", third.Revision, second.Revision)
	}

	if m := l.maxActive.Load(); m != 1 {
		t.Errorf("at most %d leaders ran at once, want exactly 1", m)
	}
}

// TestCampaignManyCandidates runs several replicas through repeated failovers and checks
// there is never more than one leader and every term's fencing token is larger than the last.
func TestCampaignManyCandidates(t *testing.T) {
	t.Parallel()
	kv, ttl := leasesBucket(t)
	l := newLeaders()
	names := []string{"r0", "r1", "r2", "r3"}
	cands := map[string]*candidate{}
	for _, n := range names {
		cands[n] = campaign(t, kv, n, l.lead)
	}
	var last uint64
	for range len(names) - 1 {
		term := natstest.Receive(t, ttl, "next leader", l.terms)
		if term.Revision <= last {
			t.Fatalf("term revision %d after %d: fencing token must increase", term.Revision, last)
		}
		last = term.Revision
		if _, ok := cands[term.Holder]; !ok {
			t.Fatalf("leader %q already stopped", term.Holder)
		}
		cands[term.Holder].stop(t)
		delete(cands, term.Holder)
	}
	final := natstest.Receive(t, ttl, "last leader", l.terms)
	if _, ok := cands[final.Holder]; !ok || final.Revision <= last {
		t.Errorf("last term %+v, want the remaining candidate with revision > %d", final, last)
	}
	if m := l.maxActive.Load(); m != 1 {
		t.Errorf("at most %d leaders ran at once, want exactly 1", m)
	}
}

// TestCampaignStepDownFreesLease checks that a leader whose lead function returns gives the
// lease up at once instead of letting it expire.
func TestCampaignStepDownFreesLease(t *testing.T) {
	t.Parallel()
	kv, ttl := leasesBucket(t)
	terms := make(chan lease.Term, 16)
	var calls atomic.Int32
	campaign(t, kv, "a", func(ctx context.Context, term lease.Term) {
		terms <- term
		if calls.Add(1) == 1 {
			return // step down
		}
		<-ctx.Done()
	})
	first := natstest.Receive(t, 5*time.Second, "first term", terms)
	// Well under the TTL: the key was deleted, not left to expire.
	second := natstest.Receive(t, ttl/2, "a new term after stepping down", terms)
	if second.Revision <= first.Revision {
		t.Errorf("second term revision %d, want > %d", second.Revision, first.Revision)
	}
}

// TestCampaignTakesOverAbandonedLease: a holder that died without releasing (kill -9) loses
// the lease when its key expires, and not before.
func TestCampaignTakesOverAbandonedLease(t *testing.T) {
	t.Parallel()
	kv, ttl := leasesBucket(t)
	ghostRev, err := kv.Create(t.Context(), key, []byte("ghost"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	l := newLeaders()
	campaign(t, kv, "a", l.lead)
	term := natstest.Receive(t, ttl+5*time.Second, "takeover of the abandoned lease", l.terms)
	if waited := time.Since(created); waited < ttl-200*time.Millisecond {
		t.Errorf("took over after %v, before the lease TTL %v expired", waited, ttl)
	}
	if term.Holder != "a" || term.Revision <= ghostRev {
		t.Errorf("term = %+v, want holder a with revision > %d", term, ghostRev)
	}
}

// TestCampaignLeaseLost: when the key is overwritten under the leader (its renewal is
// fenced out), its term's context is canceled with ErrLost.
func TestCampaignLeaseLost(t *testing.T) {
	t.Parallel()
	kv, _ := leasesBucket(t)
	terms := make(chan lease.Term, 16)
	causes := make(chan error, 16)
	var once sync.Once
	campaign(t, kv, "a", func(ctx context.Context, term lease.Term) {
		terms <- term
		<-ctx.Done()
		once.Do(func() { causes <- context.Cause(ctx) })
	})
	term := natstest.Receive(t, 5*time.Second, "a term", terms)
	if _, err := kv.Put(t.Context(), key, []byte("intruder")); err != nil {
		t.Fatal(err)
	}
	cause := natstest.Receive(t, 10*renew, "the leader to notice the lost lease", causes)
	if !errors.Is(cause, lease.ErrLost) {
		t.Errorf("term ended with cause %v, want ErrLost", cause)
	}
	// The leader must not have deleted the intruder's key on its way out.
	e, err := kv.Get(t.Context(), key)
	if err != nil || string(e.Value()) != "intruder" {
		t.Errorf("key after losing the lease: %v %v, want intruder's value", e, err)
	}
	_ = term
}
