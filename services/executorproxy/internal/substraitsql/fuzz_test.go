package substraitsql

import (
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// FuzzTranslate feeds mutated binary plans (seeded with the TPC-H plans) to Translate and
// TranslateRel: they may fail, but never panic.
func FuzzTranslate(f *testing.F) {
	for _, name := range tpchcheck.Queries {
		b, err := proto.Marshal(loadPlan(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	tables := func(names []string) (string, error) {
		if len(names) > 0 && names[0] == FragmentTable {
			return "read_parquet('fragment.parquet')", nil
		}
		return "tpch.tiny.t", nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p substraitpb.Plan
		if err := proto.Unmarshal(data, &p); err != nil {
			return
		}
		sql, err := Translate(&p, Options{Table: tables})
		if err == nil && sql == "" {
			t.Fatal("no error and no SQL")
		}
		ext, err := NewExtensions(&p)
		if err != nil {
			ext = Extensions{} // still walk the relations, which then know no functions
		}
		for _, r := range p.GetRelations() {
			rel := r.GetRel()
			if rel == nil {
				rel = r.GetRoot().GetInput()
			}
			if sql, cols, err := TranslateRel(rel, ext, Options{Table: tables}); err == nil && (sql == "" || len(cols) == 0) {
				t.Fatal("no error and no SQL")
			}
		}
	})
}
