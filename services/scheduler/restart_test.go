package scheduler

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// TestRestartRebuildsFromTheLog stops the scheduler while plans are half run, loses the
// in-memory soft state as a NATS restart would (the released fragments; in the second
// case the fragment outcomes too), and starts a new scheduler: it rebuilds from the log,
// publishes again what was in flight, and every query finishes. With the outcomes kept,
// no fragment that was done runs again.
func TestRestartRebuildsFromTheLog(t *testing.T) {
	for _, lose := range [][]string{{events.StreamPlanFragments}, {events.StreamPlanFragments, events.StreamFragmentStatus}} {
		t.Run(fmt.Sprintf("lose %v", lose), func(t *testing.T) {
			ns, conn := natstest.RunSluice(t)
			const queries = 4
			fleet := newEmptyFleet(t, conn, "restart", 8)
			var mu sync.Mutex
			runs := map[string]int{} // query/fragment → runs
			fleet.onFragment = func(f events.Fragment, _ time.Time) {
				mu.Lock()
				runs[f.Query.ID+"/"+f.FragmentID]++
				mu.Unlock()
			}
			plan := q01Plan(t)
			stop := startScheduler(t, ns)
			for i := range queries {
				fleet.place(fmt.Sprintf("20261121_000000_%05d_rstrt", i), plan)
			}
			// Half run: 12 of the 40 fragments are done (the window is 8), then the
			// scheduler stops.
			fleet.runN(12)
			stop()
			for _, name := range lose {
				s, err := conn.JS.Stream(t.Context(), name)
				if err == nil {
					err = s.Purge(t.Context())
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			before := map[string]int{}
			for k, v := range runs {
				before[k] = v
			}
			mu.Unlock()

			startScheduler(t, ns)
			cc := fleet.start()
			defer cc.Stop()
			natstest.Eventually(t, time.Minute, "every query finished after the restart", func() bool { return fleet.ended.Load() == queries })
			mu.Lock()
			defer mu.Unlock()
			if len(runs) != queries*10 {
				t.Errorf("%d distinct fragments ran, want %d", len(runs), queries*10)
			}
			if len(lose) == 1 {
				for k, n := range before {
					if runs[k] != n {
						t.Errorf("fragment %s was done before the restart and ran again (%d runs, %d before)", k, runs[k], n)
					}
				}
			}
		})
	}
}

// TestLoadReportsMemorySoftLimit: the scheduler's load carries its heap and memory soft
// limit, so that ingest refuses plans while the heap is at the limit.
func TestLoadReportsMemorySoftLimit(t *testing.T) {
	for _, tc := range []struct {
		limit string
		want  int64
		over  bool
	}{{"1", 1, true}, {"64TB", 64 << 40, false}, {"0", 0, false}} {
		t.Run(tc.limit, func(t *testing.T) {
			ns, conn := natstest.RunSluice(t)
			startSchedulerWith(t, ns, Config{MemorySoftLimit: tc.limit})
			kv, err := conn.JS.KeyValue(t.Context(), events.BucketScheduler)
			if err != nil {
				t.Fatal(err)
			}
			var load events.SchedulerLoad
			natstest.Eventually(t, 10*time.Second, "the load reported", func() bool {
				e, err := kv.Get(t.Context(), events.SchedulerLoadKey)
				return err == nil && json.Unmarshal(e.Value(), &load) == nil
			})
			if load.MemorySoftLimit != tc.want || load.HeapBytes <= 0 || (load.HeapBytes >= load.MemorySoftLimit && load.MemorySoftLimit > 0) != tc.over {
				t.Errorf("load %+v; want limit %d, a heap, over = %v", load, tc.want, tc.over)
			}
		})
	}
}

// TestScaleOfSchema: the cost model's scale follows the TPC-H schema a plan reads.
func TestScaleOfSchema(t *testing.T) {
	for schema, want := range map[string]float64{"tiny": 0.01, "sf1": 1, "sf100": 100, "sf0_1": 0.1, "sf0_5": 0.5, "sales": 0.2, "sfx": 0.2, "": 0.2} {
		if got := scaleOf(schema, 0.2); got != want {
			t.Errorf("scaleOf(%q) = %v, want %v", schema, got, want)
		}
	}
}

// TestPartitions: a scan splits into a partition per slot, and at least one per
// PartitionRows rows, at most MaxPartitions.
func TestPartitions(t *testing.T) {
	cfg := Config{MaxPartitions: 8, PartitionRows: 250_000}
	for _, tc := range []struct {
		slots int
		rows  float64
		want  int
	}{{1, 60_000, 1}, {4, 60_000, 4}, {1, 600_000, 3}, {2, 600_000, 3}, {1, 6_000_000, 8}, {16, 100, 8}, {0, 0, 1}} {
		if got := partitions(tc.slots, tc.rows, cfg); got != tc.want {
			t.Errorf("partitions(%d slots, %v rows) = %d, want %d", tc.slots, tc.rows, got, tc.want)
		}
	}
	if got := partitions(1, 6_000_000, Config{MaxPartitions: 8, PartitionRows: -1}); got != 1 {
		t.Errorf("without PartitionRows: %d partitions on one slot, want 1", got)
	}
}
