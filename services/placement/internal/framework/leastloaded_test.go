package framework

import "testing"

func TestLeastLoaded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                     string
		slots, maxSlots, running, placed, queued int
		want                                     int64
	}{
		{"idle", 8, 0, 0, 0, 0, 100},
		{"a quarter busy", 8, 0, 2, 0, 0, 75},
		{"placed counts when larger", 8, 0, 1, 4, 0, 50},
		{"running and placed are not added", 8, 0, 4, 4, 0, 50},
		{"queued adds", 8, 0, 2, 0, 2, 50},
		{"rounded down", 3, 0, 1, 0, 0, 66},
		{"full", 8, 0, 8, 0, 0, 0},
		{"backlog beyond slots clamps", 8, 0, 8, 0, 5, 0},
		{"max slots caps", 8, 4, 2, 0, 0, 50},
		{"unknown slots", 0, 0, 3, 0, 0, UnknownLoadScore},
		{"negative counts ignored", 8, 0, -5, -5, -5, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ready("a", func(c *Cluster) {
				c.Slots, c.MaxSlots, c.Running, c.Placed, c.Queued = tt.slots, tt.maxSlots, tt.running, tt.placed, tt.queued
			})
			if got := (LeastLoaded{}).Score(sqlQuery(), c); got != tt.want {
				t.Errorf("Score = %d, want %d", got, tt.want)
			}
		})
	}
}
