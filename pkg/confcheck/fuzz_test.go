package confcheck

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeStrict decodes arbitrary bytes into a small struct. Nothing may panic; an
// error must read without the "json: " prefix and be located below any path; invalid JSON
// must fail; and what decodes must come back the same after encoding it again.
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"name": "a", "weight": 2, "ratio": 0.5, "on": true, "tags": ["x"], "inner": {"port": 80}}`))
	f.Add([]byte(`{"name": 1}`))
	f.Add([]byte(`{"inner": {"port": 70000}}`))
	f.Add([]byte(`{"nmae": "a"}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"tags": [`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r testRule
		err := DecodeStrict(data, &r)
		if err != nil {
			msg := err.Error()
			if msg == "" || strings.HasPrefix(msg, "json: ") {
				t.Fatalf("error %q", msg)
			}
			if fe := Locate("root", err); fe.Message == "" || (fe.Path != "root" && !strings.HasPrefix(fe.Path, "root.")) {
				t.Fatalf("Locate(root, %v) = %#v", err, fe)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("invalid JSON %q decoded to %+v", data, r)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 testRule
		if err := DecodeStrict(again, &r2); err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v became %+v", r, r2)
		}
	})
}
