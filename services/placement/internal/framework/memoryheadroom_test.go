package framework

import (
	"math"
	"testing"
)

func TestMemoryHeadroom(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	tests := []struct {
		name              string
		need, total, used int64
		want              string
		wantScore         int64
	}{
		{"no estimate", 0, 8 * gib, 8 * gib, "", 0},
		{"fits", 2 * gib, 8 * gib, 4 * gib, "", 50},
		{"fits exactly", 4 * gib, 8 * gib, 4 * gib, "", 50},
		{"does not fit", 3 * gib, 8 * gib, 6 * gib, "Unschedulable: needs 3.0GiB of memory, 2.0GiB free of 8.0GiB", 25},
		{"overcommitted", 1, 8 * gib, 9 * gib, "Unschedulable: needs 1B of memory, 0B free of 8.0GiB", 0},
		{"unknown memory", 100 * gib, 0, 0, "", UnknownMemoryScore},
		{"idle", 1 * gib, 8 * gib, 0, "", 100},
		{"negative use ignored", 1 * gib, 8 * gib, -gib, "", 100},
		{"rounded down", 0, 3, 1, "", 66},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := sqlQuery(func(q *Query) { q.MemoryBytes = tt.need })
			c := ready("a", func(c *Cluster) { c.MemoryBytes, c.MemoryUsedBytes = tt.total, tt.used })
			if got := statusReason(MemoryHeadroom{}.Filter(&CycleState{Now: t0}, q, c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
			if got := (MemoryHeadroom{}).Score(q, c); got != tt.wantScore {
				t.Errorf("Score = %d, want %d", got, tt.wantScore)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0KiB"}, {1536 << 20, "1.5GiB"}, {1 << 62, "4.0EiB"}, {-2048, "-2.0KiB"},
		{1100, "1.1KiB"}, {1996, "1.9KiB"}, {2047, "2.0KiB"}, {1<<20 - 1, "1024.0KiB"}, {1 << 20, "1.0MiB"},
		{math.MaxInt64, "8.0EiB"}, {math.MinInt64, "-8.0EiB"}, {-1, "-1B"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
