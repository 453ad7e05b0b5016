package fragment

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// BenchmarkCut is the scheduler's intake work for one plan: parse the binary plan, cut it
// with LINEITEM in 8 partitions and encode every fragment's plan.
func BenchmarkCut(b *testing.B) {
	for _, q := range []string{"q01", "q09", "q18"} {
		bin, err := proto.Marshal(parsed(b, q).Proto())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				p, err := Parse(bin, ContentTypeProtobuf)
				if err != nil {
					b.Fatal(err)
				}
				d, err := Cut(p, Options{QueryID: q, ScaleFactor: 1, Partitions: map[string]int{"lineitem": 8, "orders": 4}})
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range d.Fragments {
					if _, err := d.MarshalPlan(f.ID); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
