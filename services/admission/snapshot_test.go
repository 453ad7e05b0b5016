package admission

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

func (h *harness) readSnapshot() *snapshotFile {
	h.t.Helper()
	obj, err := h.conn.JS.ObjectStore(h.t.Context(), events.ObjectSnapshots)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := obj.GetBytes(h.t.Context(), events.SnapshotAdmission)
	if err != nil {
		return nil
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	return &f
}

// TestNewReplicaRestoresFromSnapshot: the leader stores snapshots; a new replica loads the
// newest, folds only the log after it (a cancel and new submissions), and then decides
// exactly as a full replay would: FIFO within the limit, the queued queries of the snapshot
// admitted with their submissions read back from the log, the canceled one canceled. A
// snapshot that cannot be read is ignored and the whole log replayed.
func TestNewReplicaRestoresFromSnapshot(t *testing.T) {
	t.Parallel()
	const limit = 2
	h := newHarness(t, events.DefaultTopology())
	often := func(c *Config) { c.SnapshotEvery = 10 }
	r1 := h.startReplicaWith("r1", limit, often)
	for i := range 20 {
		h.submit(qid(i))
	}
	natstest.Eventually(t, 5*time.Second, "a snapshot with 2 running and 18 queued", func() bool {
		f := h.readSnapshot()
		return f != nil && len(f.State.Tree.Queries) == 20 && len(f.State.Entries) == 18
	})
	r1.stop(t)
	snapSeq := h.readSnapshot().State.LastSeq

	// The tail after the snapshot: a cancel of a queued query and new submissions.
	h.cancel(qid(5), "user")
	for i := 20; i < 25; i++ {
		h.submit(qid(i))
	}
	var logs syncBuffer
	r2 := h.startReplicaWith("r2", limit, func(c *Config) {
		often(c)
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	natstest.Eventually(t, 5*time.Second, "r2 restored from the snapshot", func() bool {
		return strings.Contains(logs.String(), "admission state restored from a snapshot")
	})
	natstest.Eventually(t, 5*time.Second, "the queued cancel", func() bool {
		for _, e := range h.log.sync() {
			if e.subject == events.SubjectCanceled && e.queryID == qid(5) {
				return e.seq > snapSeq
			}
		}
		return false
	})
	var want []string
	for i := range 25 {
		if i != 5 {
			want = append(want, qid(i))
		}
	}
	driveFIFO(t, h, want, limit)

	// A query queued in the snapshot was admitted with its submission read from the log.
	for _, e := range h.log.admitted() {
		if e.queryID != qid(7) {
			continue
		}
		stream, err := h.conn.JS.Stream(t.Context(), events.StreamQueries)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := stream.GetMsg(t.Context(), e.seq)
		if err != nil {
			t.Fatal(err)
		}
		var p events.QueryAdmitted
		if _, err := events.Decode(raw.Header, raw.Data, events.TypeQueryAdmitted, &p); err != nil {
			t.Fatal(err)
		}
		if p.Query.SQL != "SELECT 1" || p.Query.User != "alice" {
			t.Fatalf("admitted %s carries query %+v, want the submitted one", qid(7), p.Query)
		}
	}

	// An unreadable snapshot: the next replica replays the whole log and still decides.
	obj, err := h.conn.JS.ObjectStore(t.Context(), events.ObjectSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(t.Context(), events.SnapshotAdmission, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	r2.stop(t)
	var logs3 syncBuffer
	h.startReplicaWith("r3", limit, func(c *Config) {
		often(c)
		c.Logger = slog.New(slog.NewTextHandler(&logs3, nil))
	})
	natstest.Eventually(t, 5*time.Second, "r3 ignores the snapshot", func() bool {
		return strings.Contains(logs3.String(), "admission snapshot unreadable")
	})
	h.submit(qid(30))
	natstest.Eventually(t, 10*time.Second, "r3 admits", func() bool {
		got := ids(h.log.admitted())
		return len(got) == len(want)+1 && got[len(got)-1] == qid(30)
	})
	checkInvariants(t, h.log.sync(), limit)
}
