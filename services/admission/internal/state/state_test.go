package state

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// folder encodes events as the log stores them and folds them with increasing sequences.
type folder struct {
	t   *testing.T
	st  *State
	seq uint64
}

func newFolder(t *testing.T) *folder {
	cfg, err := rgspec.Parse([]byte(`{"rootGroups":[{"name":"global","maxQueued":10,"hardConcurrencyLimit":1,
		"subGroups":[{"name":"${USER}","maxQueued":10,"hardConcurrencyLimit":1}]}],"selectors":[{"group":"global.${USER}"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return &folder{t: t, st: New(cfg, groups.Options{})}
}

func (f *folder) fold(subject, msgID, id string, payload any) {
	f.t.Helper()
	msg, err := events.Encode(f.t.Context(), subject, msgID, "test", ceType(subject), id, payload)
	if err != nil {
		f.t.Fatal(err)
	}
	f.seq++
	if err := f.st.Apply(subject, f.seq, msg.Header, msg.Data); err != nil {
		f.t.Fatalf("apply %s: %v", subject, err)
	}
}

func ceType(subject string) string {
	if subject == events.SubjectAdmissionTerm {
		return events.TypeAdmissionTerm
	}
	return events.TypeForSubject[subject]
}

func (f *folder) submitted(id, user string) {
	f.fold(events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.QuerySubmitted{Query: events.QuerySpec{ID: id, User: user, SQL: "SELECT 1"}})
}

func group(user string) ([]string, []string) {
	return []string{"global", user}, []string{"global", "${USER}"}
}

func TestFoldLifecycle(t *testing.T) {
	f := newFolder(t)
	f.fold(events.SubjectAdmissionTerm, "term:a:1", "", events.AdmissionTerm{Holder: "a", LeaseRevision: 1})
	if f.st.LastTermSeq != 1 {
		t.Fatalf("LastTermSeq = %d, want 1", f.st.LastTermSeq)
	}
	f.submitted("q1", "alice")
	f.submitted("q2", "alice.smith") // a user name with a dot stays one segment
	if e, ok := f.st.NextPending(); !ok || e.ID != "q1" {
		t.Fatalf("next pending = %v, want q1", e)
	}
	id, tmpl := group("alice")
	f.fold(events.SubjectAdmitted, events.MsgIDAdmitted("q1"), "q1", events.QueryAdmitted{Query: events.QuerySpec{ID: "q1"}, Group: "global.alice", GroupID: id, GroupTemplate: tmpl})
	id2, _ := group("alice.smith")
	f.fold(events.SubjectQueued, events.MsgIDQueued("q2"), "q2", events.QueryQueued{QueryID: "q2", Group: "global.alice.smith", GroupID: id2, GroupTemplate: tmpl, QueuedAt: time.Now()})
	if _, ok := f.st.NextPending(); ok {
		t.Fatal("a query with a verdict is still pending")
	}
	q2, ok := f.st.Tree.Lookup("q2")
	if !ok || q2.Running() || q2.Leaf().Path()[1] != "alice.smith" {
		t.Fatalf("q2 = %+v, want queued in global/alice.smith", q2)
	}
	if r, q := f.st.Tree.Counts(); r != 1 || q != 1 {
		t.Fatalf("running %d queued %d, want 1 and 1", r, q)
	}
	// Folding the same admission again changes nothing.
	f.fold(events.SubjectAdmitted, events.MsgIDAdmitted("q1"), "q1", events.QueryAdmitted{Query: events.QuerySpec{ID: "q1"}, Group: "global.alice", GroupID: id, GroupTemplate: tmpl})
	if r, _ := f.st.Tree.Counts(); r != 1 {
		t.Fatalf("running %d after a repeated admission, want 1", r)
	}
	f.fold(events.SubjectFinished, events.MsgIDTerminal("q1"), "q1", events.QueryEnded{QueryID: "q1", CPUTimeMillis: 1500})
	f.fold(events.SubjectCanceled, events.MsgIDTerminal("q2"), "q2", events.QueryEnded{QueryID: "q2"})
	if r, q := f.st.Tree.Counts(); r != 0 || q != 0 {
		t.Fatalf("running %d queued %d after both ended", r, q)
	}
	// A submission folded again after its end (a replay) does not come back.
	f.submitted("q1", "alice")
	if _, ok := f.st.NextPending(); ok {
		t.Fatal("an ended query became pending again")
	}
}

func TestFoldCancelBeforeSubmit(t *testing.T) {
	f := newFolder(t)
	f.fold(events.SubjectCancelRequested, events.MsgIDCancelRequested("q1"), "q1", events.QueryCancelRequested{QueryID: "q1", Reason: "abandoned"})
	f.submitted("q1", "bob")
	c := f.st.Canceled()
	if len(c) != 1 || c[0].ID != "q1" || c[0].CancelReason != "abandoned" {
		t.Fatalf("canceled = %v, want q1 (abandoned)", c)
	}
	if _, ok := f.st.NextPending(); ok {
		t.Fatal("a canceled submission is offered for a verdict")
	}
}

func TestFoldLegacyGroup(t *testing.T) {
	f := newFolder(t)
	f.submitted("q1", "carol")
	// Written before resource groups: only the dotted name, which the configuration lacks.
	f.fold(events.SubjectAdmitted, events.MsgIDAdmitted("q1"), "q1", events.QueryAdmitted{Query: events.QuerySpec{ID: "q1"}, Group: "old"})
	q, ok := f.st.Tree.Lookup("q1")
	if !ok || !q.Running() || q.Group() != "old" {
		t.Fatalf("legacy admission folded as %+v", q)
	}
}

func TestAccounting(t *testing.T) {
	p, m, err := Accounting(&events.QuerySpec{Session: map[string]string{"query_priority": "7"}, ResourceEstimate: map[string]string{"PEAK_MEMORY": "2GB"}})
	if err != nil || p != 7 || m != 2<<30 {
		t.Fatalf("Accounting = %d, %d, %v", p, m, err)
	}
	for _, bad := range []map[string]string{{"query_priority": "0"}, {"query_priority": "high"}} {
		if _, _, err := Accounting(&events.QuerySpec{Session: bad}); err == nil {
			t.Errorf("query_priority %v accepted", bad)
		}
	}
}

// TestFoldRegeneratesCPUQuota: CPU quotas regenerate in the fold by the time of each
// terminal event, so a standby that becomes leader does not hold the whole history's usage.
func TestFoldRegeneratesCPUQuota(t *testing.T) {
	f := &folder{t: t, st: New(snapshotConfig(t), groups.Options{})}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"q1", "q2"} {
		f.submitted(id, "alice")
		gid, tmpl := group("alice")
		f.fold(events.SubjectAdmitted, events.MsgIDAdmitted(id), id, events.QueryAdmitted{Query: events.QuerySpec{ID: id}, Group: "global.alice", GroupID: gid, GroupTemplate: tmpl})
	}
	f.fold(events.SubjectFinished, events.MsgIDTerminal("q1"), "q1", events.QueryEnded{QueryID: "q1", EndedAt: t0, CPUTimeMillis: (60 * time.Minute).Milliseconds()})
	// Half a quota period later: hardCpuLimit (1m) × 1/2 came back before q2's 1 s is charged.
	f.fold(events.SubjectFinished, events.MsgIDTerminal("q2"), "q2", events.QueryEnded{QueryID: "q2", EndedAt: t0.Add(30 * time.Minute), CPUTimeMillis: 1000})
	want := 60*time.Minute - 30*time.Second + time.Second
	for _, c := range f.st.Tree.Image().CPU {
		if len(c.GroupID) == 1 && c.GroupID[0] == "global" {
			if c.Usage != want {
				t.Fatalf("global CPU usage %s, want %s", c.Usage, want)
			}
			return
		}
	}
	t.Fatal("no CPU usage recorded for global")
}

// TestFoldProgressSetsMemory: a running query's reported memory replaces its estimate in
// its groups; progress of a query that is not running changes nothing.
func TestFoldProgressSetsMemory(t *testing.T) {
	f := newFolder(t)
	f.submitted("q1", "dana")
	id, tmpl := group("dana")
	f.fold(events.SubjectProgress, events.MsgIDProgress("q1", 0, 1), "q1", events.QueryProgress{QueryID: "q1", MemoryBytes: 5 << 20})
	f.fold(events.SubjectAdmitted, events.MsgIDAdmitted("q1"), "q1", events.QueryAdmitted{Query: events.QuerySpec{ID: "q1"}, Group: "global.dana", GroupID: id, GroupTemplate: tmpl, MemoryBytes: 1 << 20})
	f.fold(events.SubjectProgress, events.MsgIDProgress("q1", 0, 2), "q1", events.QueryProgress{QueryID: "q1", MemoryBytes: 3 << 30})
	q, _ := f.st.Tree.Lookup("q1")
	if q.Memory != 3<<30 {
		t.Fatalf("memory after progress = %d, want 3 GiB", q.Memory)
	}
	g, _ := f.st.Tree.Group([]string{"global"})
	if info := f.st.Tree.Info(g, time.Now()); info.MemoryUsage != protocol.FormatDataSize(3<<30) {
		t.Fatalf("root group memory usage %q, want %q", info.MemoryUsage, protocol.FormatDataSize(3<<30))
	}
	f.fold(events.SubjectFinished, events.MsgIDTerminal("q1"), "q1", events.QueryEnded{QueryID: "q1"})
	f.fold(events.SubjectProgress, events.MsgIDProgress("q1", 0, 3), "q1", events.QueryProgress{QueryID: "q1", MemoryBytes: 7 << 30})
	if _, ok := f.st.Tree.Lookup("q1"); ok {
		t.Fatal("a late progress event brought an ended query back")
	}
}
