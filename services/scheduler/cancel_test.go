package scheduler

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// TestCancelBeforePlacedEndsThePlan: placement can place a plan after its cancel was
// requested (it took the admission before it saw the cancel). The scheduler remembers the
// cancel and ends the plan as soon as it is placed, canceled, before any fragment runs;
// a plan placed without a cancel still runs.
func TestCancelBeforePlacedEndsThePlan(t *testing.T) {
	ns, conn := natstest.RunSluice(t)
	fleet := newEmptyFleet(t, conn, "cancel", 4)
	var ran atomic.Int64
	const canceled, kept = "20261121_000000_00001_cncld", "20261121_000000_00002_kept0"
	fleet.onFragment = func(f events.Fragment, _ time.Time) {
		if f.Query.ID == canceled {
			ran.Add(1)
		}
	}
	cc := fleet.start()
	defer cc.Stop()
	startScheduler(t, ns)

	if _, err := fleet.pub.Publish(t.Context(), events.SubjectCancelRequested, events.MsgIDCancelRequested(canceled), canceled,
		events.TypeQueryCancelRequested, events.QueryCancelRequested{QueryID: canceled, Reason: "canceled by the client"}); err != nil {
		t.Fatal(err)
	}
	plan := q01Plan(t)
	fleet.place(canceled, plan)
	fleet.place(kept, plan)

	var end atomic.Pointer[events.QueryEnded]
	f, err := follow.Start(t.Context(), conn.JS, events.StreamQueries, []string{events.SubjectCanceled}, func(m jetstream.Msg) {
		var e events.QueryEnded
		if _, err := events.Decode(m.Headers(), m.Data(), events.TypeQueryCanceled, &e); err == nil && e.QueryID == canceled {
			end.Store(&e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	natstest.Eventually(t, 30*time.Second, "the plan placed after its cancel ended", func() bool { return end.Load() != nil })
	if e := end.Load(); e.Error == nil || e.Error.ErrorName != protocol.UserCanceled.Name || e.By != "scheduler" {
		t.Errorf("its end: %+v, want USER_CANCELED by the scheduler", e)
	}
	natstest.Eventually(t, 30*time.Second, "the other plan finished", func() bool { return fleet.ended.Load() == 1 })
	if n := ran.Load(); n != 0 {
		t.Errorf("%d fragments of the canceled plan ran", n)
	}
}
