package state

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/rgspec"
)

type logged struct {
	subject string
	header  nats.Header
	data    []byte
}

// randomLog writes a lifecycle log: submissions, verdicts, admissions of queued queries,
// cancels (some before the submission), ends with CPU time, repeats and term markers.
func randomLog(t *testing.T, seed uint64, n int) []logged {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	var log []logged
	add := func(subject, msgID, id string, payload any) {
		msg, err := events.Encode(t.Context(), subject, msgID, "test", ceType(subject), id, payload)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, logged{subject, msg.Header, msg.Data})
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var submitted, queued, running []string
	pick := func(ids *[]string) string {
		i := rng.IntN(len(*ids))
		id := (*ids)[i]
		*ids = slices.Delete(*ids, i, i+1)
		return id
	}
	for next := 0; len(log) < n; {
		at = at.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		switch r := rng.IntN(100); {
		case r < 30:
			id := fmt.Sprintf("q%04d", next)
			next++
			if rng.IntN(20) == 0 {
				add(events.SubjectCancelRequested, events.MsgIDCancelRequested(id), id, events.QueryCancelRequested{QueryID: id, Reason: "abandoned"})
			}
			user := fmt.Sprintf("u%d", rng.IntN(4))
			add(events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.QuerySubmitted{Query: events.QuerySpec{ID: id, User: user, SQL: "SELECT " + id, SubmittedAt: at}})
			submitted = append(submitted, id+"/"+user)
		case r < 50 && len(submitted) > 0:
			id, user, _ := strings.Cut(pick(&submitted), "/")
			gid, tmpl := group(user)
			if rng.IntN(2) == 0 {
				add(events.SubjectQueued, events.MsgIDQueued(id), id, events.QueryQueued{QueryID: id, Group: "global." + user, GroupID: gid, GroupTemplate: tmpl,
					QueuedAt: at, Priority: int64(1 + rng.IntN(3)), MemoryBytes: int64(rng.IntN(4)) << 20})
				queued = append(queued, id+"/"+user)
			} else {
				add(events.SubjectAdmitted, events.MsgIDAdmitted(id), id, events.QueryAdmitted{Query: events.QuerySpec{ID: id}, Group: "global." + user, GroupID: gid, GroupTemplate: tmpl, Priority: 2})
				running = append(running, id)
			}
		case r < 62 && len(queued) > 0:
			id, user, _ := strings.Cut(pick(&queued), "/")
			gid, tmpl := group(user)
			add(events.SubjectAdmitted, events.MsgIDAdmitted(id), id, events.QueryAdmitted{Query: events.QuerySpec{ID: id}, Group: "global." + user, GroupID: gid, GroupTemplate: tmpl})
			running = append(running, id)
		case r < 67 && len(queued) > 0:
			id, _, _ := strings.Cut(queued[rng.IntN(len(queued))], "/")
			add(events.SubjectCancelRequested, events.MsgIDCancelRequested(id), id, events.QueryCancelRequested{QueryID: id, Reason: "user"})
		case r < 85 && len(running) > 0:
			id := pick(&running)
			add(events.SubjectFinished, events.MsgIDTerminal(id), id, events.QueryEnded{QueryID: id, EndedAt: at, CPUTimeMillis: int64(rng.IntN(90_000))})
		case r < 90 && len(log) > 0:
			l := log[rng.IntN(len(log))] // a repeated event
			log = append(log, l)
		case r < 92:
			add(events.SubjectAdmissionTerm, fmt.Sprintf("term:%d", len(log)), "", events.AdmissionTerm{Holder: "x", LeaseRevision: uint64(len(log))})
		case r < 96 && len(running) > 0:
			id := running[rng.IntN(len(running))]
			add(events.SubjectProgress, events.MsgIDProgress(id, 0, len(log)), id, events.QueryProgress{QueryID: id, MemoryBytes: int64(rng.IntN(8)) << 20, At: at})
		}
	}
	return log
}

func snapshotConfig(t *testing.T) *rgspec.Config {
	t.Helper()
	cfg, err := rgspec.Parse([]byte(`{"rootGroups":[{"name":"global","maxQueued":1000,"hardConcurrencyLimit":100,"hardCpuLimit":"1m","softCpuLimit":"30s",
		"schedulingPolicy":"query_priority","subGroups":[{"name":"${USER}","maxQueued":1000,"hardConcurrencyLimit":50}]}],
		"selectors":[{"group":"global.${USER}"}],"cpuQuotaPeriod":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func foldLog(t *testing.T, st *State, log []logged, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := st.Apply(log[i].subject, uint64(i+1), log[i].header, log[i].data); err != nil {
			t.Fatalf("apply %d (%s): %v", i+1, log[i].subject, err)
		}
	}
}

// describe renders everything a decision depends on, in a canonical order.
func describe(t *testing.T, st *State) string {
	t.Helper()
	img := st.Tree.Image()
	var run []groups.QueryImage
	var queue []groups.QueryImage
	for _, q := range img.Queries {
		if q.Running {
			run = append(run, q)
		} else {
			queue = append(queue, q)
		}
	}
	slices.SortFunc(run, func(a, b groups.QueryImage) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d term %d regen %s\n", st.LastSeq, st.LastTermSeq, img.LastRegen)
	for _, q := range append(run, queue...) {
		fmt.Fprintf(&b, "query %s %v %v p%d m%d %s running=%v\n", q.ID, q.GroupID, q.Template, q.Priority, q.Memory, q.QueuedAt.UTC(), q.Running)
	}
	var cpu []string // in group ID order: materialization order is not part of the state
	for _, c := range img.CPU {
		cpu = append(cpu, fmt.Sprintf("cpu %v %s\n", c.GroupID, c.Usage))
	}
	slices.Sort(cpu)
	b.WriteString(strings.Join(cpu, ""))
	snap := st.Snapshot(time.Time{})
	for _, e := range snap.Entries {
		full, ok := st.Entry(e.ID)
		if !ok {
			t.Fatalf("entry %s in the snapshot but not in the state", e.ID)
		}
		spec, err := full.Spec()
		sql := ""
		if err == nil {
			sql = spec.SQL
		}
		fmt.Fprintf(&b, "entry %s seq %d pending=%v cancel=%v/%s trace=%v sql=%q\n", e.ID, e.Seq, e.Pending, e.CancelRequested, e.CancelReason, e.Trace, sql)
	}
	fmt.Fprintf(&b, "ended %v\nprecancel %v\n", snap.Ended, snap.PreCancel)
	return b.String()
}

// TestSnapshotRestoreEqualsFullFold: for many logs and cut points, folding the log up to
// the cut, snapshotting (through JSON, as stored), restoring and folding the rest gives the
// same state as folding the whole log; restored entries read their submissions back from
// the log.
func TestSnapshotRestoreEqualsFullFold(t *testing.T) {
	cfg := snapshotConfig(t)
	busy := 0 // logs that end with queries queued or running
	for seed := range uint64(12) {
		log := randomLog(t, seed, 400)
		full := New(cfg, groups.Options{})
		foldLog(t, full, log, 0, len(log))
		want := describe(t, full)
		if r, q := full.Tree.Counts(); r+q > 0 {
			busy++
		}
		loads := 0
		load := func(seq uint64) (nats.Header, []byte, error) {
			loads++
			if seq == 0 || seq > uint64(len(log)) {
				return nil, nil, fmt.Errorf("no message %d", seq)
			}
			return log[seq-1].header, log[seq-1].data, nil
		}
		for _, cut := range []int{0, 1, len(log) / 3, len(log) / 2, len(log) - 1, len(log)} {
			part := New(cfg, groups.Options{})
			foldLog(t, part, log, 0, cut)
			data, err := json.Marshal(part.Snapshot(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			var snap Snapshot
			if err := json.Unmarshal(data, &snap); err != nil {
				t.Fatal(err)
			}
			restored, err := Restore(&snap, cfg, groups.Options{}, load)
			if err != nil {
				t.Fatal(err)
			}
			if restored.LastSeq != uint64(cut) {
				t.Fatalf("seed %d cut %d: restored LastSeq %d", seed, cut, restored.LastSeq)
			}
			foldLog(t, restored, log, cut, len(log))
			if got := describe(t, restored); got != want {
				t.Fatalf("seed %d cut %d: restored state differs from the full fold\n got: %s\nwant: %s", seed, cut, got, want)
			}
			if err := restored.Tree.CheckInvariants(); err != nil {
				t.Fatalf("seed %d cut %d: %v", seed, cut, err)
			}
		}
		if loads == 0 {
			t.Fatalf("seed %d: no restored entry read its submission from the log", seed)
		}
	}
	if busy < 6 {
		t.Fatalf("only %d of 12 logs end with queries queued or running; the test proves little", busy)
	}
}

func TestRestoreRejectsOtherVersions(t *testing.T) {
	if _, err := Restore(&Snapshot{Version: SnapshotVersion + 1}, snapshotConfig(t), groups.Options{}, nil); err == nil {
		t.Fatal("a snapshot of an unknown version was restored")
	}
}

func TestRecentSetForgetsTheOldest(t *testing.T) {
	r := newRecentSet(3)
	for _, id := range []string{"a", "b", "a", "c", "d"} {
		r.add(id)
	}
	var got []string
	r.each(func(id string) { got = append(got, id) })
	if !slices.Equal(got, []string{"b", "c", "d"}) || r.has("a") || !r.has("d") {
		t.Fatalf("recent = %v (has a: %v)", got, r.has("a"))
	}
}
