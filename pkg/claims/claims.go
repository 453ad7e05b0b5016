// Package claims fences where a placed query may start. Every placed query has a claim in
// the SLUICE_PLACEMENTS bucket: the cluster and attempt that may start it. Placement moves a
// query to another cluster, and an executor starts it, only by compare-and-set on that
// claim (the KV revision), so a query moved off a draining or silent cluster can never also
// start there, and a query that started never moves (DESIGN invariant 2: at most one
// cluster at a time).
package claims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// ErrConflict: the claim changed since it was read (another placement or executor won).
var ErrConflict = errors.New("claims: the claim changed")

// Claim is a claim as read, with the revision a compare-and-set needs.
type Claim struct {
	events.PlacementClaim
	Revision uint64
}

// Store reads and changes claims.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open returns the claim store of a JetStream account.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketPlacements)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return &Store{kv: kv, now: time.Now}, nil
}

// Get returns a query's claim; ok is false when it has none.
func (s *Store) Get(ctx context.Context, queryID string) (c Claim, ok bool, err error) {
	e, err := s.kv.Get(ctx, queryID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("claims: get %s: %w", queryID, err)
	}
	if err := json.Unmarshal(e.Value(), &c.PlacementClaim); err != nil {
		return Claim{}, false, fmt.Errorf("claims: %s: %w", queryID, err)
	}
	c.Revision = e.Revision()
	return c, true, nil
}

func (s *Store) encode(cluster string, attempt int, state events.ClaimState) []byte {
	b, _ := json.Marshal(events.PlacementClaim{Cluster: cluster, Attempt: attempt, State: state, At: s.now().UTC()})
	return b
}

// Place records the first placement of a query. When the query already has a claim (a
// placement redelivered after a crash), that claim stands and is returned: the caller
// publishes the placement it names.
func (s *Store) Place(ctx context.Context, queryID, cluster string) (Claim, error) {
	rev, err := s.kv.Create(ctx, queryID, s.encode(cluster, 0, events.ClaimPlaced))
	if err == nil {
		return Claim{PlacementClaim: events.PlacementClaim{Cluster: cluster, State: events.ClaimPlaced}, Revision: rev}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return Claim{}, fmt.Errorf("claims: place %s: %w", queryID, err)
	}
	c, ok, err := s.Get(ctx, queryID)
	if err != nil {
		return Claim{}, err
	}
	if !ok {
		return Claim{}, fmt.Errorf("claims: place %s: %w", queryID, ErrConflict)
	}
	return c, nil
}

// Move gives a placed query that did not start (placed, or its dispatch failed) to another
// cluster with the next attempt. It fails with ErrConflict when the claim is no longer from
// (the query started, or moved already).
func (s *Store) Move(ctx context.Context, queryID string, from Claim, cluster string) (Claim, error) {
	if from.State != events.ClaimPlaced && from.State != events.ClaimDispatchFailed {
		return Claim{}, fmt.Errorf("claims: move %s in state %s: %w", queryID, from.State, ErrConflict)
	}
	return s.update(ctx, queryID, from.Revision, cluster, from.Attempt+1, events.ClaimPlaced)
}

// Lose marks a started query whose cluster was lost: no executor may start it again.
func (s *Store) Lose(ctx context.Context, queryID string, from Claim) (Claim, error) {
	if from.State != events.ClaimStarted {
		return Claim{}, fmt.Errorf("claims: lose %s in state %s: %w", queryID, from.State, ErrConflict)
	}
	return s.update(ctx, queryID, from.Revision, from.Cluster, from.Attempt, events.ClaimLost)
}

// DispatchFailed is an executor's word that it could not hand attempt of a query, which it
// had claimed to start, to its engine: the query ran nowhere and placement may move it. It
// fails with ErrConflict when the claim is not (cluster, attempt, started).
func (s *Store) DispatchFailed(ctx context.Context, queryID, cluster string, attempt int) error {
	c, ok, err := s.Get(ctx, queryID)
	if err != nil {
		return err
	}
	if !ok || c.Cluster != cluster || c.Attempt != attempt || c.State != events.ClaimStarted {
		return fmt.Errorf("claims: dispatch of %s failed on %s attempt %d, but the claim is elsewhere: %w", queryID, cluster, attempt, ErrConflict)
	}
	_, err = s.update(ctx, queryID, c.Revision, cluster, attempt, events.ClaimDispatchFailed)
	return err
}

func (s *Store) update(ctx context.Context, queryID string, rev uint64, cluster string, attempt int, state events.ClaimState) (Claim, error) {
	newRev, err := s.kv.Update(ctx, queryID, s.encode(cluster, attempt, state), rev)
	if err != nil {
		if isWrongRevision(err) {
			return Claim{}, fmt.Errorf("claims: %s: %w", queryID, ErrConflict)
		}
		return Claim{}, fmt.Errorf("claims: update %s: %w", queryID, err)
	}
	return Claim{PlacementClaim: events.PlacementClaim{Cluster: cluster, Attempt: attempt, State: state}, Revision: newRev}, nil
}

// Start is an executor's claim to start attempt of a query on cluster. It reports false
// when the query is no longer this cluster's to start: it moved to another cluster or
// attempt, or was lost. Starting again what this cluster and attempt already started (a
// redelivery after a crash) is allowed. A query without a claim (dispatched without
// placement) gets one, started.
func (s *Store) Start(ctx context.Context, queryID, cluster string, attempt int) (bool, error) {
	for range 3 {
		c, ok, err := s.Get(ctx, queryID)
		if err != nil {
			return false, err
		}
		if !ok {
			_, err := s.kv.Create(ctx, queryID, s.encode(cluster, attempt, events.ClaimStarted))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err == nil, err
		}
		if c.Cluster != cluster || c.Attempt != attempt || c.State == events.ClaimLost || c.State == events.ClaimDispatchFailed {
			return false, nil
		}
		if c.State == events.ClaimStarted {
			return true, nil
		}
		_, err = s.update(ctx, queryID, c.Revision, cluster, attempt, events.ClaimStarted)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("claims: start %s: %w", queryID, ErrConflict)
}

// Current reports whether cluster may run work of attempt of a query: its claim names
// that cluster and attempt and was neither lost nor given up. A query without a claim
// (dispatched without placement) is current.
func (s *Store) Current(ctx context.Context, queryID, cluster string, attempt int) (bool, error) {
	c, ok, err := s.Get(ctx, queryID)
	if err != nil || !ok {
		return err == nil, err
	}
	return c.Cluster == cluster && c.Attempt == attempt && c.State != events.ClaimLost && c.State != events.ClaimDispatchFailed, nil
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}
