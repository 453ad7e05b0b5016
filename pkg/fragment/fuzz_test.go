package fragment

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParse feeds arbitrary bytes, seeded with the 21 TPC-H plans as JSON, as binary
// with URNs and as binary with legacy URIs. Parse and Cut must never panic, must fail
// only with the package's sentinels, and must cut every plan Parse accepts.
func FuzzParse(f *testing.F) {
	for _, q := range tpchQueries {
		data := planJSON(f, q)
		f.Add(data, true)
		p, err := Parse(data, ContentTypeJSON)
		if err != nil {
			f.Fatal(err)
		}
		bin, err := proto.Marshal(p.Proto())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bin, false)
		f.Add(legacyBinary(f, p.Proto()), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		contentType := ContentTypeProtobuf
		if isJSON {
			contentType = ContentTypeJSON
		}
		p, err := Parse(data, contentType)
		if err != nil {
			if !errors.Is(err, ErrMalformedPlan) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		for _, parts := range []map[string]int{nil, {"lineitem": 2, "orders": 3, "t": 2}} {
			d, err := Cut(p, Options{QueryID: "fuzz", Partitions: parts})
			if err != nil {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("Cut: %v", err)
				}
				continue
			}
			if d.Root().Kind != KindRoot {
				t.Fatalf("root fragment is %s", d.Root().Kind)
			}
			_ = d.String()
		}
	})
}
