package substraitplan_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/pkg/substraitplan"
	"google.golang.org/protobuf/proto"
)

// isthmusPlan reads a vendored Isthmus TPC-H plan (legacy extension URIs).
func isthmusPlan(t *testing.T, name string) []byte {
	t.Helper()
	dir, _ := os.Getwd()
	for range 6 {
		b, err := os.ReadFile(filepath.Join(dir, "shared", "data", "tpch", "substrait", "isthmus", name))
		if err == nil {
			return b
		}
		dir = filepath.Dir(dir)
	}
	if d := os.Getenv("SLUICE_SHARED_DIR"); d != "" {
		if b, err := os.ReadFile(filepath.Join(d, "data", "tpch", "substrait", "isthmus", name)); err == nil {
			return b
		}
	}
	t.Fatalf("%s not found (set SLUICE_SHARED_DIR)", name)
	return nil
}

// TestDecodeMigratesAndRoundTrips: an Isthmus JSON plan decodes with its URIs turned into
// URNs, and its binary encoding decodes to the same plan, by content type or sniffed.
func TestDecodeMigratesAndRoundTrips(t *testing.T) {
	p, err := substraitplan.Decode(isthmusPlan(t, "q01.json"), "application/json; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GetExtensionUrns()) == 0 || p.GetExtensionUrns()[0].GetUrn()[:len("extension:io.substrait:")] != "extension:io.substrait:" {
		t.Fatalf("URNs after migration: %v", p.GetExtensionUrns())
	}
	bin, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{substraitplan.ContentTypeProtobuf, substraitplan.ContentTypeSubstrait, ""} {
		again, err := substraitplan.Decode(bin, ct)
		if err != nil || !proto.Equal(again, p) {
			t.Errorf("binary (%q): %v, equal %v", ct, err, proto.Equal(again, p))
		}
	}
}

// TestDecodeErrors: each failure is an *Error of the right kind.
func TestDecodeErrors(t *testing.T) {
	for name, c := range map[string]struct {
		data, ct string
		kind     error
	}{
		"broken JSON":        {`{"relations": [`, substraitplan.ContentTypeJSON, substraitplan.ErrMalformed},
		"broken protobuf":    {"\xff\xff\xff", substraitplan.ContentTypeProtobuf, substraitplan.ErrMalformed},
		"other media type":   {`{}`, "text/csv", substraitplan.ErrUnsupported},
		"bad content type":   {`{}`, "a/b; =", substraitplan.ErrUnsupported},
		"undeclared URI ref": {`{"extensionUris": [{"uri": "/f.yaml", "extensionUriAnchor": 1}], "extensions": [{"extensionFunction": {"extensionUriReference": 7, "name": "f"}}]}`, "", substraitplan.ErrMalformed},
	} {
		_, err := substraitplan.Decode([]byte(c.data), c.ct)
		var de *substraitplan.Error
		if !errors.Is(err, c.kind) || !errors.As(err, &de) {
			t.Errorf("%s: %v, want %v", name, err, c.kind)
		}
	}
	if _, err := substraitplan.Decode(make([]byte, substraitplan.MaxPlanSize+1), ""); !errors.Is(err, substraitplan.ErrUnsupported) {
		t.Errorf("oversized plan: %v", err)
	}
}
