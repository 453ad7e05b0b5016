package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/internal/state"
)

// snapshotFile is what the snapshot object holds: the fold, and the log it is a fold of. A
// stream that was deleted and created again has another creation time; its old snapshot is
// not used.
type snapshotFile struct {
	StreamCreated time.Time       `json:"streamCreated"`
	State         *state.Snapshot `json:"state"`
}

// restore returns the state of the newest usable snapshot, or an empty state when there is
// none. A snapshot that cannot be used (another log, a newer format, unreadable) is logged
// and ignored: the whole log is replayed instead.
func (s *service) restore(ctx context.Context, js jetstream.JetStream, opts groups.Options) *state.State {
	fresh := func() *state.State { return state.New(s.rg, opts) }
	if s.cfg.SnapshotEvery <= 0 {
		return fresh()
	}
	stream, err := js.Stream(ctx, events.StreamQueries)
	if err != nil {
		return fresh()
	}
	obj, err := js.ObjectStore(ctx, events.ObjectSnapshots)
	if err != nil {
		return fresh()
	}
	data, err := obj.GetBytes(ctx, events.SnapshotAdmission)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fresh()
	}
	if err != nil {
		s.log.Warn("admission snapshot not read; replaying the whole log", "err", err)
		return fresh()
	}
	var file snapshotFile
	if err := json.Unmarshal(data, &file); err != nil || file.State == nil {
		s.log.Warn("admission snapshot unreadable; replaying the whole log", "err", err)
		return fresh()
	}
	info := stream.CachedInfo()
	if !file.StreamCreated.Equal(info.Created) || file.State.LastSeq > info.State.LastSeq {
		s.log.Warn("admission snapshot is of another log; replaying the whole log", "snapshotSeq", file.State.LastSeq, "logSeq", info.State.LastSeq)
		return fresh()
	}
	load := func(seq uint64) (nats.Header, []byte, error) {
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		msg, err := stream.GetMsg(lctx, seq)
		if err != nil {
			return nil, nil, err
		}
		return msg.Header, msg.Data, nil
	}
	st, err := state.Restore(file.State, s.rg, opts, load)
	if err != nil {
		s.log.Warn("admission snapshot not restored; replaying the whole log", "err", err)
		return fresh()
	}
	s.log.Info("admission state restored from a snapshot", "seq", file.State.LastSeq, "taken", file.State.TakenAt, "bytes", len(data))
	return st
}

// snapshotter writes the leader's fold to the object store every SnapshotEvery events,
// one write at a time, off the decision path.
type snapshotter struct {
	every    uint64
	lastSeq  uint64 // the sequence of the newest snapshot written or restored
	inFlight chan struct{}
}

func newSnapshotter(every int, restoredSeq uint64) *snapshotter {
	return &snapshotter{every: uint64(max(every, 0)), lastSeq: restoredSeq, inFlight: make(chan struct{}, 1)}
}

// maybeSnapshot starts writing a snapshot when enough events were folded since the last one.
func (s *service) maybeSnapshot(ctx context.Context, js jetstream.JetStream, sn *snapshotter) {
	if sn.every == 0 {
		return
	}
	select {
	case sn.inFlight <- struct{}{}: // held until the write ends; it guards lastSeq
	default:
		return // the previous write is still going
	}
	s.mu.Lock()
	var snap *state.Snapshot
	if s.st.LastSeq >= sn.lastSeq+sn.every {
		snap = s.st.Snapshot(time.Now())
	}
	s.mu.Unlock()
	if snap == nil {
		<-sn.inFlight
		return
	}
	go func() {
		defer func() { <-sn.inFlight }()
		if err := writeSnapshot(ctx, js, snap); err != nil {
			s.log.Warn("admission snapshot not written", "seq", snap.LastSeq, "err", err)
			return
		}
		sn.lastSeq = snap.LastSeq
	}()
}

// writeSnapshot stores snap as the admission snapshot.
func writeSnapshot(ctx context.Context, js jetstream.JetStream, snap *state.Snapshot) error {
	stream, err := js.Stream(ctx, events.StreamQueries)
	if err != nil {
		return err
	}
	data, err := json.Marshal(snapshotFile{StreamCreated: stream.CachedInfo().Created, State: snap})
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	obj, err := js.ObjectStore(ctx, events.ObjectSnapshots)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = obj.PutBytes(wctx, events.SnapshotAdmission, data)
	return err
}
