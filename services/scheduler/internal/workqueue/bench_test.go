package workqueue

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPushPop: one fragment in and one out per op with 10,000 queued across 1,000
// queries in three levels and two regions.
func BenchmarkPushPop(b *testing.B) {
	q, _ := New(Config{})
	now := t0
	for i := range 10000 {
		qid := fmt.Sprint("q", i%1000)
		_ = q.Push(Fragment{Query: qid, ID: fmt.Sprint(i), Priority: i % 3, RemainingCost: time.Duration(i%97) * time.Second, Region: []string{"", "eu"}[i%2]}, now)
		if i%1000 < 300 {
			q.Charge(qid, time.Duration(i%20)*time.Second/1000)
		}
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprint("n", i)
	}
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(time.Microsecond)
		f, ok, _ := q.Pop("eu", now)
		if !ok {
			b.Fatal("empty")
		}
		f.ID = ids[i%len(ids)] + fmt.Sprint(i)
		if err := q.Push(f, now); err != nil {
			b.Fatal(err)
		}
	}
}
