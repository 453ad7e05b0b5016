package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/events"
)

// FuzzDecode feeds arbitrary header values and bodies to Decode. It must never panic, every
// error must be classified (not a cloudevent, unexpected type, or a JSON payload error), and
// whatever decodes must re-encode and decode again to the same attributes and payload.
func FuzzDecode(f *testing.F) {
	valid, err := events.Encode(f.Context(), events.SubjectCancelRequested, "q 1:cancel%", "sluice/ingest", events.TypeQueryCancelRequested, "q \"1\" ü", events.QueryCancelRequested{QueryID: "q1", Reason: "r"})
	if err != nil {
		f.Fatal(err)
	}
	h := valid.Header
	f.Add(h.Get("ce-specversion"), h.Get("ce-id"), h.Get("ce-source"), h.Get("ce-type"), h.Get("ce-subject"), h.Get("ce-time"), "ext", "v%20w", valid.Data, "")
	f.Add("1.0", "id", "src", "t", "", "", "", "", []byte(`{"queryId":"x"}`), "t")
	f.Add("0.3", "id", "/s", "t", "s", "2020-01-01T00:00:00Z", "a", "%", []byte(`[1,2,{"a":null}]`), "")
	f.Add("1.0", "%zz", "%41", "%", "%%", "not a time", "Bad-Name", "\x00", []byte(`"\ud800"`), "x")
	f.Add("", "", "", "", "", "", "", "", []byte{}, "")
	f.Add("1.0", "id", "::", "t", "s", "", "", "", []byte(`1e999`), "")

	f.Fuzz(func(t *testing.T, spec, id, source, ceType, subject, ceTime, extName, extVal string, data []byte, wantType string) {
		h := nats.Header{}
		set := func(k, v string) {
			if v != "" {
				h.Set(k, v)
			}
		}
		set("ce-specversion", spec)
		set("ce-id", id)
		set("ce-source", source)
		set("ce-type", ceType)
		set("ce-subject", subject)
		set("ce-time", ceTime)
		set("ce-"+extName, extVal)
		set("content-type", "application/json")

		var payload any
		ev, err := events.Decode(h, data, wantType, &payload)
		if err != nil {
			var syntaxErr *json.SyntaxError
			var typeErr *json.UnmarshalTypeError
			if !errors.Is(err, events.ErrNotCloudEvent) && !errors.Is(err, events.ErrUnknownType) &&
				!errors.As(err, &syntaxErr) && !errors.As(err, &typeErr) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			return
		}
		if wantType != "" && ev.Type() != wantType {
			t.Fatalf("decoded type %q, want %q", ev.Type(), wantType)
		}

		msg, err := events.Encode(t.Context(), events.SubjectSubmitted, ev.ID(), ev.Source(), ev.Type(), ev.Subject(), payload)
		if err != nil {
			t.Fatalf("decoded event (id %q source %q type %q) does not re-encode: %v", ev.ID(), ev.Source(), ev.Type(), err)
		}
		var again any
		ev2, err := events.Decode(msg.Header, msg.Data, ev.Type(), &again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v (headers %v)", err, msg.Header)
		}
		if ev2.ID() != ev.ID() || ev2.Source() != ev.Source() || ev2.Type() != ev.Type() || ev2.Subject() != ev.Subject() {
			t.Fatalf("attributes changed: (%q %q %q %q) -> (%q %q %q %q)",
				ev.ID(), ev.Source(), ev.Type(), ev.Subject(), ev2.ID(), ev2.Source(), ev2.Type(), ev2.Subject())
		}
		if !reflect.DeepEqual(again, payload) {
			t.Fatalf("payload changed: %#v -> %#v", payload, again)
		}
	})
}
