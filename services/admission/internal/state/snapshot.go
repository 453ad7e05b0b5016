package state

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// SnapshotVersion is the format of Snapshot; a snapshot of another version is not loaded.
const SnapshotVersion = 1

// ErrSnapshotVersion: the snapshot was written in a format this build does not read.
var ErrSnapshotVersion = errors.New("state: snapshot format not supported")

// Snapshot is the fold at one position of the log: every event up to LastSeq is in it. A new
// replica loads the newest snapshot and folds only the events after it, instead of the whole
// log. The log stays the truth: a snapshot is a cache of a fold, and replaying the log from
// the start gives the same state.
//
// Submissions are not copied: an entry keeps the sequence of its submission, which is read
// from the log when the leader needs the query.
type Snapshot struct {
	Version     int               `json:"version"`
	LastSeq     uint64            `json:"lastSeq"`
	LastTermSeq uint64            `json:"lastTermSeq"`
	TakenAt     time.Time         `json:"takenAt"`
	Entries     []EntryImage      `json:"entries"`
	Tree        groups.Image      `json:"tree"`
	Ended       []string          `json:"ended,omitempty"`
	PreCancel   map[string]string `json:"preCancel,omitempty"`
}

// EntryImage is a submission without a verdict (Pending) or a queued query, as a snapshot
// keeps it.
type EntryImage struct {
	ID              string            `json:"id"`
	Seq             uint64            `json:"seq"`
	Trace           map[string]string `json:"trace,omitempty"`
	Pending         bool              `json:"pending,omitempty"`
	CancelRequested bool              `json:"cancelRequested,omitempty"`
	CancelReason    string            `json:"cancelReason,omitempty"`
}

// Snapshot captures the state. It copies what may change, so the caller may encode it
// after releasing the state.
func (s *State) Snapshot(now time.Time) *Snapshot {
	snap := &Snapshot{Version: SnapshotVersion, LastSeq: s.LastSeq, LastTermSeq: s.LastTermSeq, TakenAt: now.UTC(),
		Entries: make([]EntryImage, 0, len(s.entries)), Tree: s.Tree.Image(), PreCancel: maps.Clone(s.preCance)}
	for _, e := range s.entries {
		ei := EntryImage{ID: e.ID, Seq: e.Seq, Pending: e.pending, CancelRequested: e.CancelRequested, CancelReason: e.CancelReason}
		if len(e.Trace) > 0 {
			ei.Trace = make(map[string]string, len(e.Trace))
			for k := range e.Trace {
				ei.Trace[k] = e.Trace.Get(k)
			}
		}
		snap.Entries = append(snap.Entries, ei)
	}
	slices.SortFunc(snap.Entries, func(a, b EntryImage) int { return cmp.Compare(a.Seq, b.Seq) })
	snap.Ended = make([]string, 0, len(s.ended.index))
	s.ended.each(func(id string) { snap.Ended = append(snap.Ended, id) })
	return snap
}

// Restore rebuilds a state from a snapshot under the configuration in force now (groups that
// left it are kept, disabled, as a fold would). load reads a submission from the log.
func Restore(snap *Snapshot, cfg *rgspec.Config, opts groups.Options, load Loader) (*State, error) {
	if snap.Version != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrSnapshotVersion, snap.Version, SnapshotVersion)
	}
	s := New(cfg, opts)
	s.LastSeq, s.LastTermSeq = snap.LastSeq, snap.LastTermSeq
	s.Tree.LoadImage(snap.Tree)
	for _, ei := range snap.Entries {
		if ei.ID == "" {
			return nil, errors.New("state: snapshot entry without a query ID")
		}
		e := &Entry{ID: ei.ID, Seq: ei.Seq, pending: ei.Pending, CancelRequested: ei.CancelRequested, CancelReason: ei.CancelReason, load: load}
		if len(ei.Trace) > 0 {
			e.Trace = nats.Header{}
			for k, v := range ei.Trace {
				e.Trace.Set(k, v)
			}
		}
		s.entries[e.ID] = e
		if e.pending {
			s.pending = append(s.pending, e)
		}
		if e.CancelRequested {
			s.cancels[e.ID] = e
		}
	}
	for _, id := range snap.Ended {
		s.ended.add(id)
	}
	for id, reason := range snap.PreCancel {
		s.preCance[id] = reason
	}
	return s, nil
}
