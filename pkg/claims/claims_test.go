package claims_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/natstest"
)

func open(t *testing.T) *claims.Store {
	t.Helper()
	_, conn := natstest.RunSluice(t)
	s, err := claims.Open(t.Context(), conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMoveFencesTheOldCluster: once a query moved, the cluster it left cannot start it;
// the new one can, once; a started query no longer moves.
func TestMoveFencesTheOldCluster(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	c, err := s.Place(ctx, "q1", "a")
	if err != nil || c.Cluster != "a" || c.Attempt != 0 {
		t.Fatalf("Place = %+v, %v", c, err)
	}
	// A redelivered placement finds the claim and keeps it.
	if again, err := s.Place(ctx, "q1", "b"); err != nil || again.Cluster != "a" {
		t.Fatalf("second Place = %+v, %v; want the first claim (a)", again, err)
	}
	moved, err := s.Move(ctx, "q1", c, "b")
	if err != nil || moved.Cluster != "b" || moved.Attempt != 1 {
		t.Fatalf("Move = %+v, %v", moved, err)
	}
	if _, err := s.Move(ctx, "q1", c, "c"); !errors.Is(err, claims.ErrConflict) {
		t.Fatalf("a second move from the stale claim: %v, want ErrConflict", err)
	}
	if ok, err := s.Start(ctx, "q1", "a", 0); ok || err != nil {
		t.Fatalf("the old cluster started the moved query: %v %v", ok, err)
	}
	if ok, err := s.Start(ctx, "q1", "b", 1); !ok || err != nil {
		t.Fatalf("the new cluster could not start it: %v %v", ok, err)
	}
	if ok, err := s.Start(ctx, "q1", "b", 1); !ok || err != nil {
		t.Fatalf("a redelivery to the same cluster and attempt: %v %v", ok, err)
	}
	cur, _, _ := s.Get(ctx, "q1")
	if _, err := s.Move(ctx, "q1", cur, "c"); !errors.Is(err, claims.ErrConflict) {
		t.Fatalf("moved a started query: %v", err)
	}
	lost, err := s.Lose(ctx, "q1", cur)
	if err != nil || lost.State != events.ClaimLost {
		t.Fatalf("Lose = %+v, %v", lost, err)
	}
	if ok, _ := s.Start(ctx, "q1", "b", 1); ok {
		t.Fatal("a lost query started again")
	}
}

// TestStartRacesMove: an executor starting and placement moving the same query at once:
// exactly one wins, and the loser learns it.
func TestStartRacesMove(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	for i := range 20 {
		id := "q" + string(rune('a'+i))
		c, err := s.Place(ctx, id, "a")
		if err != nil {
			t.Fatal(err)
		}
		var started, moved bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); started, _ = s.Start(ctx, id, "a", 0) }()
		go func() { defer wg.Done(); _, err := s.Move(ctx, id, c, "b"); moved = err == nil }()
		wg.Wait()
		if started == moved {
			t.Fatalf("%s: started %v, moved %v; exactly one must win", id, started, moved)
		}
	}
}

// TestStartWithoutClaim: a fragment dispatched without placement claims its own start.
func TestStartWithoutClaim(t *testing.T) {
	t.Parallel()
	s := open(t)
	if ok, err := s.Start(t.Context(), "direct", "a", 0); !ok || err != nil {
		t.Fatalf("Start without a claim = %v, %v", ok, err)
	}
	if ok, _ := s.Start(t.Context(), "direct", "b", 0); ok {
		t.Fatal("another cluster started a query a started")
	}
}

// TestDispatchFailedLetsTheQueryMove: a started query whose dispatch failed ran nowhere, so
// it moves to another cluster; the failed cluster cannot start it again, and only the
// cluster holding the claim can report a failed dispatch.
func TestDispatchFailedLetsTheQueryMove(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := t.Context()
	if _, err := s.Place(ctx, "q1", "a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Start(ctx, "q1", "a", 0); !ok || err != nil {
		t.Fatalf("Start = %v, %v", ok, err)
	}
	if err := s.DispatchFailed(ctx, "q1", "b", 0); !errors.Is(err, claims.ErrConflict) {
		t.Fatalf("another cluster reported the failed dispatch: %v, want ErrConflict", err)
	}
	if err := s.DispatchFailed(ctx, "q1", "a", 0); err != nil {
		t.Fatalf("DispatchFailed: %v", err)
	}
	if ok, err := s.Start(ctx, "q1", "a", 0); ok || err != nil {
		t.Fatalf("a redelivery started the failed dispatch again: %v, %v", ok, err)
	}
	cur, _, _ := s.Get(ctx, "q1")
	if cur.State != events.ClaimDispatchFailed {
		t.Fatalf("claim state %s, want %s", cur.State, events.ClaimDispatchFailed)
	}
	moved, err := s.Move(ctx, "q1", cur, "b")
	if err != nil || moved.Cluster != "b" || moved.Attempt != 1 || moved.State != events.ClaimPlaced {
		t.Fatalf("Move after a failed dispatch = %+v, %v", moved, err)
	}
	if ok, err := s.Start(ctx, "q1", "b", 1); !ok || err != nil {
		t.Fatalf("the new cluster could not start it: %v, %v", ok, err)
	}
	if err := s.DispatchFailed(ctx, "q1", "a", 0); !errors.Is(err, claims.ErrConflict) {
		t.Fatalf("a stale failed dispatch changed the claim: %v", err)
	}
}
