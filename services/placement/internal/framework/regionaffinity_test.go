package framework

import "testing"

func TestRegionAffinity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query, cluster string
		want           int64
	}{
		{"", "", 100},
		{"", "eu-west-1", 100},
		{"eu-west-1", "eu-west-1", 100},
		{"eu-west-1", "EU-West-1", 100},
		{"eu-west-1", "us-east-1", 0},
		{"eu-west-1", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query+"/"+tt.cluster, func(t *testing.T) {
			t.Parallel()
			q := sqlQuery(func(q *Query) { q.Region = tt.query })
			c := ready("a", func(c *Cluster) { c.Region = tt.cluster })
			if got := (RegionAffinity{}).Score(q, c); got != tt.want {
				t.Errorf("Score = %d, want %d", got, tt.want)
			}
		})
	}
}
