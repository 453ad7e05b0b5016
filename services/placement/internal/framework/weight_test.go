package framework

import (
	"slices"
	"testing"
)

func TestWeight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		weights []int
		want    []int64
	}{
		{"all default", []int{0, 0, 0}, []int64{100, 100, 100}},
		{"equal", []int{3, 3}, []int64{100, 100}},
		{"relative to the largest", []int{1, 2, 4}, []int64{25, 50, 100}},
		{"zero and negative count as one", []int{0, -3, 2}, []int64{50, 50, 100}},
		{"rounded down", []int{1, 3}, []int64{33, 100}},
		{"huge weights do not overflow", []int{1 << 60, 1 << 61}, []int64{50, 100}},
		{"one cluster", []int{7}, []int64{100}},
		{"none", nil, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make([]int64, len(tt.weights))
			for i, w := range tt.weights {
				got[i] = Weight{}.Score(sqlQuery(), ready("a", func(c *Cluster) { c.Weight = w }))
			}
			Weight{}.NormalizeScores(sqlQuery(), got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("scores = %v, want %v", got, tt.want)
			}
		})
	}
}
