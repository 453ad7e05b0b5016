package api_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
)

// fuzzContentTypes are the encodings FuzzPlanIntake posts bodies as ("" sniffs).
var fuzzContentTypes = []string{"application/json", "application/x-protobuf", "application/vnd.substrait+proto", ""}

// FuzzPlanIntake posts arbitrary bodies to POST /v1/plan: the answer is always the
// protocol's QueryResults document, a queued query or a failed one with a named error
// (HTTP 200, or 4xx for a malformed request), never a panic or a 5xx.
func FuzzPlanIntake(f *testing.F) {
	e := newEnv(f, nil)
	q01 := shareddata.IsthmusPlan(f, "q01")
	f.Add(q01, uint8(0))
	f.Add(binaryPlan(f, q01), uint8(1))
	f.Add(binaryPlan(f, shareddata.IsthmusPlan(f, "q02")), uint8(3))
	f.Add([]byte(`{"relations":[{"root":{"input":{"fetch":{"input":{"extensionLeaf":{}},"count":1}},"names":["a"]}}]}`), uint8(0))
	f.Add([]byte(`{"extensionUris":[{"extensionUriAnchor":1,"uri":"/functions_arithmetic.yaml"}]}`), uint8(3))
	f.Add([]byte("\x0a\x04\x12\x02\x0a\x00"), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		w := e.postPlan(body, fuzzContentTypes[int(kind)%len(fuzzContentTypes)])
		qr := results(t, w)
		switch {
		case w.Code == http.StatusOK && qr.Error == nil:
			if qr.Stats.State != protocol.StateQueued || qr.NextURI == "" {
				t.Fatalf("accepted without a queued answer: %s", w.Body.String())
			}
		case w.Code == http.StatusOK || (w.Code >= 400 && w.Code < 500):
			if qr.Error == nil || qr.Error.ErrorName == "" || qr.Error.Message == "" || qr.NextURI != "" || qr.Stats.State != protocol.StateFailed {
				t.Fatalf("HTTP %d without a failed query's error: %s", w.Code, w.Body.String())
			}
		default:
			t.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
		}
	})
}
