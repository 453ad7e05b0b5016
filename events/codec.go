package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Binary-mode CloudEvents headers on NATS messages.
const (
	headerPrefix      = "ce-"
	headerSpecVersion = "ce-specversion"
	headerID          = "ce-id"
	headerSource      = "ce-source"
	headerType        = "ce-type"
	headerSubject     = "ce-subject"
	headerTime        = "ce-time"
	headerContentType = "content-type"
)

// Encode builds a NATS message carrying payload as a binary-mode CloudEvent: one ce-*
// header per attribute, percent-encoded as the NATS protocol binding requires, and the JSON
// payload as the body. The CloudEvent id is the deterministic msgID, which also serves as
// Nats-Msg-Id. The W3C trace context of ctx is injected into the same headers.
func Encode(ctx context.Context, subject, msgID, source, ceType, queryID string, payload any) (*nats.Msg, error) {
	ev := cloudevents.New()
	ev.SetID(msgID)
	ev.SetSource(source)
	ev.SetType(ceType)
	ev.SetSubject(queryID)
	ev.SetTime(time.Now().UTC())
	contentType, data := cloudevents.ApplicationJSON, payload
	if m, ok := payload.(EventMarshaler); ok {
		ct, b, err := m.MarshalEvent()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", ceType, err)
		}
		contentType, data = ct, b
	}
	if err := ev.SetData(contentType, data); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ceType, err)
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ceType, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = ev.Data()
	set := func(k, v string) { msg.Header.Set(k, percentEncode(v)) }
	set(headerSpecVersion, ev.SpecVersion())
	set(headerID, ev.ID())
	set(headerSource, ev.Source())
	set(headerType, ev.Type())
	if ev.Subject() != "" {
		set(headerSubject, ev.Subject())
	}
	set(headerTime, ev.Time().Format(time.RFC3339Nano))
	msg.Header.Set(headerContentType, contentType)
	msg.Header.Set(nats.MsgIdHdr, msgID)
	InjectTrace(ctx, msg.Header)
	return msg, nil
}

// Decode reads a binary-mode CloudEvent from headers and body and checks that its type is
// wantType (when not empty); the payload is decoded into v (when not nil): by v itself
// when it is an EventUnmarshaler, else as JSON.
func Decode(h nats.Header, data []byte, wantType string, v any) (cloudevents.Event, error) {
	ev := cloudevents.New()
	if h == nil || h.Get(headerSpecVersion) == "" {
		return ev, ErrNotCloudEvent
	}
	get := func(k string) string { return percentDecode(h.Get(k)) }
	ev.SetSpecVersion(get(headerSpecVersion))
	ev.SetID(get(headerID))
	ev.SetSource(get(headerSource))
	ev.SetType(get(headerType))
	if s := get(headerSubject); s != "" {
		ev.SetSubject(s)
	}
	if ts := get(headerTime); ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ev.SetTime(t)
		}
	}
	for k, vals := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, headerPrefix) || len(vals) == 0 {
			continue
		}
		switch lk {
		case headerSpecVersion, headerID, headerSource, headerType, headerSubject, headerTime:
			continue
		}
		ev.SetExtension(strings.TrimPrefix(lk, headerPrefix), percentDecode(vals[0]))
	}
	ev.DataEncoded = data
	ev.SetDataContentType(h.Get(headerContentType))
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("%w: %v", ErrNotCloudEvent, err)
	}
	if wantType != "" && ev.Type() != wantType {
		return ev, fmt.Errorf("%w: got %q, want %q", ErrUnknownType, ev.Type(), wantType)
	}
	if u, ok := v.(EventUnmarshaler); ok {
		if err := u.UnmarshalEvent(ev.DataContentType(), data); err != nil {
			return ev, fmt.Errorf("decode %s payload: %w", ev.Type(), err)
		}
	} else if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return ev, fmt.Errorf("decode %s payload: %w", ev.Type(), err)
		}
	}
	return ev, nil
}

// percentEncode escapes what the NATS binding requires: space, double quote, percent and
// every byte outside printable ASCII.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	out, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return out
}
