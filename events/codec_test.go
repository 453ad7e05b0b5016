package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// at is a fixed UTC instant with nanoseconds, so JSON round trips compare with DeepEqual.
var at = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func sampleSpec() events.QuerySpec {
	return events.QuerySpec{
		ID:               "20250314_150926_00001_abcde",
		SQL:              "SELECT 'ünïcødé', \"quoted\" FROM t WHERE x LIKE '100%'",
		Protocol:         events.ProtocolPresto,
		User:             "alice",
		OriginalUser:     "bob",
		Source:           "trino-cli",
		Catalog:          "tpch",
		Schema:           "sf1",
		Path:             "\"tpch\".\"sf1\"",
		TimeZone:         "Europe/Zürich",
		Language:         "de-CH",
		TraceToken:       "tt-1",
		ClientInfo:       `{"k": "v"}`,
		ClientTags:       []string{"etl", "nightly"},
		Session:          map[string]string{"query_max_memory": "1GB", "x y": "a=b, c"},
		Roles:            map[string]string{"tpch": "ROLE{admin}"},
		PreparedStmts:    map[string]string{"q1": "SELECT ?"},
		ExtraCredentials: map[string]string{"token": "s3cr3t"},
		ResourceEstimate: map[string]string{"PEAK_MEMORY": "8GB"},
		RoutingGroup:     "adhoc",
		TransactionID:    "tx-42",
		SubmittedAt:      at,
	}
}

// payloadCase is one event type: the payload to send and a fresh value to decode into.
type payloadCase struct {
	name    string
	subject string
	ceType  string
	payload any
	fresh   func() any
}

func payloadCases() []payloadCase {
	errInfo := &events.QueryErrorInfo{Message: "line 1:8: mismatched input", ErrorCode: 1, ErrorName: "SYNTAX_ERROR", ErrorType: "USER_ERROR", Line: 1, Column: 8}
	return []payloadCase{
		{"submitted", events.SubjectSubmitted, events.TypeQuerySubmitted,
			events.QuerySubmitted{Query: sampleSpec()},
			func() any { return new(events.QuerySubmitted) }},
		{"cancel-requested", events.SubjectCancelRequested, events.TypeQueryCancelRequested,
			events.QueryCancelRequested{QueryID: "q1", Reason: "user pressed ^C"},
			func() any { return new(events.QueryCancelRequested) }},
		{"admitted", events.SubjectAdmitted, events.TypeQueryAdmitted,
			events.QueryAdmitted{Query: sampleSpec(), Group: "global.adhoc.alice", GroupID: []string{"global", "adhoc", "alice"}, GroupTemplate: []string{"global", "adhoc", "${USER}"}, LeaseRevision: 77, AdmittedAt: at, Priority: 3, MemoryBytes: 1 << 30},
			func() any { return new(events.QueryAdmitted) }},
		{"queued", events.SubjectQueued, events.TypeQueryQueued,
			events.QueryQueued{QueryID: "q1", Group: "global.adhoc.j.doe", GroupID: []string{"global", "adhoc", "j.doe"}, GroupTemplate: []string{"global", "adhoc", "${USER}"}, LeaseRevision: 77, QueuedAt: at, Priority: 2, Reason: "global.adhoc.alice: 3/3 running (hardConcurrencyLimit)"},
			func() any { return new(events.QueryQueued) }},
		{"admission-term", events.SubjectAdmissionTerm, events.TypeAdmissionTerm,
			events.AdmissionTerm{Holder: "host:1", LeaseRevision: 77, At: at},
			func() any { return new(events.AdmissionTerm) }},
		{"rejected", events.SubjectRejected, events.TypeQueryRejected,
			events.QueryEnded{QueryID: "q1", EndedAt: at, Error: errInfo, By: "admission"},
			func() any { return new(events.QueryEnded) }},
		{"placed", events.SubjectPlaced, events.TypeQueryPlaced,
			events.QueryPlaced{Query: sampleSpec(), Cluster: "duck-1", Attempt: 2, PlacedAt: at, MemoryBytes: 1 << 30, Reason: "duck-1=0.9 duck-2=0.4"},
			func() any { return new(events.QueryPlaced) }},
		{"started", events.SubjectStarted, events.TypeQueryStarted,
			events.QueryStarted{QueryID: "q1", Cluster: "duck-1", Attempt: 2, NextURI: "http://127.0.0.1:8080/v1/statement/executing/q1/y/1", StartedAt: at,
				EngineQueryID: "20260101_000000_00000_trino"},
			func() any { return new(events.QueryStarted) }},
		{"dispatch-failed", events.SubjectDispatchFailed, events.TypeQueryDispatchFailed,
			events.QueryDispatchFailed{QueryID: "q1", Cluster: "trino-1", Attempt: 1, At: at,
				Error: events.QueryErrorInfo{Message: "connection refused", ErrorCode: 16777218, ErrorName: "SLUICE_DISPATCH_FAILED", ErrorType: "EXTERNAL"}},
			func() any { return new(events.QueryDispatchFailed) }},
		{"progress", events.SubjectProgress, events.TypeQueryProgress,
			events.QueryProgress{QueryID: "q1", Cluster: "trino-1", Attempt: 1, MemoryBytes: 3 << 30, CPUTimeMillis: 12345, At: at},
			func() any { return new(events.QueryProgress) }},
		{"finished", events.SubjectFinished, events.TypeQueryFinished,
			events.QueryEnded{QueryID: "q1", Cluster: "duck-1", EndedAt: at, Rows: 1 << 40, CPUTimeMillis: 1234, By: "executorproxy"},
			func() any { return new(events.QueryEnded) }},
		{"failed", events.SubjectFailed, events.TypeQueryFailed,
			events.QueryEnded{QueryID: "q1", Cluster: "duck-1", EndedAt: at, Error: errInfo, By: "executorproxy"},
			func() any { return new(events.QueryEnded) }},
		{"canceled", events.SubjectCanceled, events.TypeQueryCanceled,
			events.QueryEnded{QueryID: "q1", EndedAt: at, Error: &events.QueryErrorInfo{Message: "canceled", ErrorCode: 3, ErrorName: "USER_CANCELED", ErrorType: "USER_ERROR"}, By: "ingest"},
			func() any { return new(events.QueryEnded) }},
		{"fragment", events.FragmentSubject("duck-1"), events.TypeFragment,
			events.Fragment{Query: sampleSpec(), FragmentID: "f0", Cluster: "duck-1", Attempt: 1, SQL: "SELECT 1"},
			func() any { return new(events.Fragment) }},
		{"heartbeat", "sluice.test.heartbeat", "io.sluice.test.heartbeat.v1",
			events.ClusterHeartbeat{Name: "duck-1", URL: "http://127.0.0.1:9001", Engine: "duckdb", State: events.ClusterDraining, Slots: 8, Running: 3, Queued: 1, At: at},
			func() any { return new(events.ClusterHeartbeat) }},
		{"status", "sluice.test.status", "io.sluice.test.status.v1",
			events.QueryStatus{Query: sampleSpec(), State: events.StateFailed, Cluster: "duck-1", NextURI: "http://x/y", Error: errInfo, CancelRequested: true, Group: "global.etl", QueuedReason: "global: 1/1 running (hardConcurrencyLimit)", AdmittedAt: at, StartedAt: at.Add(time.Second), EndedAt: at.Add(2 * time.Second), Attempts: 2, Seq: 9},
			func() any { return new(events.QueryStatus) }},
		{"status-zero-times", "sluice.test.status", "io.sluice.test.status.v1",
			events.QueryStatus{Query: events.QuerySpec{ID: "q2", User: "u", SubmittedAt: at}, State: events.StateQueued, Seq: 1},
			func() any { return new(events.QueryStatus) }},
	}
}

// TestTypeForSubjectCoversLifecycle checks that every lifecycle subject used by the cases
// maps to the type the cases publish with, so the round-trip table matches the contract.
func TestTypeForSubjectCoversLifecycle(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range payloadCases() {
		want, ok := events.TypeForSubject[c.subject]
		if !ok {
			continue
		}
		seen[c.subject] = true
		if want != c.ceType {
			t.Errorf("TypeForSubject[%s] = %s, case %s uses %s", c.subject, want, c.name, c.ceType)
		}
	}
	for subject := range events.TypeForSubject {
		if !seen[subject] {
			t.Errorf("lifecycle subject %s has no round-trip case", subject)
		}
		if !strings.HasPrefix(subject, events.SubjectQueryPrefix) {
			t.Errorf("lifecycle subject %s lacks prefix %s", subject, events.SubjectQueryPrefix)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range payloadCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			msgID := events.MsgIDTerminal("q1")
			before := time.Now().UTC()
			msg, err := events.Encode(t.Context(), c.subject, msgID, "sluice/test", c.ceType, "q1", c.payload)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if msg.Subject != c.subject {
				t.Errorf("subject = %q, want %q", msg.Subject, c.subject)
			}
			if got := msg.Header.Get(nats.MsgIdHdr); got != msgID {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, msgID)
			}
			if got := msg.Header.Get("content-type"); got != "application/json" {
				t.Errorf("content-type = %q", got)
			}
			wantBody, _ := json.Marshal(c.payload)
			if string(msg.Data) != string(wantBody) {
				t.Errorf("body = %s, want %s", msg.Data, wantBody)
			}

			got := c.fresh()
			ev, err := events.Decode(msg.Header, msg.Data, c.ceType, got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if v := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(v, c.payload) {
				t.Errorf("payload mismatch\n got: %#v\nwant: %#v", v, c.payload)
			}
			if ev.SpecVersion() != "1.0" || ev.ID() != msgID || ev.Source() != "sluice/test" || ev.Type() != c.ceType || ev.Subject() != "q1" {
				t.Errorf("attributes = (%s %s %s %s %s)", ev.SpecVersion(), ev.ID(), ev.Source(), ev.Type(), ev.Subject())
			}
			if ev.DataContentType() != "application/json" {
				t.Errorf("datacontenttype = %q", ev.DataContentType())
			}
			if ev.Time().Before(before.Add(-time.Second)) || ev.Time().After(time.Now().Add(time.Second)) {
				t.Errorf("time = %v, want about %v", ev.Time(), before)
			}
		})
	}
}

// TestEncodePercentEncodesHeaders checks that every ce-* header value is percent-encoded as
// the NATS binding requires and decodes back to the original string.
func TestEncodePercentEncodesHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		queryID    string
		msgID      string
		source     string
		wantRawSub string
		wantRawID  string
		wantRawSrc string
		// wantSrc is the decoded source when it differs from source: the SDK keeps a
		// source as a URI reference, so non-ASCII is URI-escaped before the header is.
		wantSrc string
	}{
		{
			name: "plain ASCII is left alone", queryID: "q_1-A", msgID: "q_1-A:terminal", source: "sluice/ingest",
			wantRawSub: "q_1-A", wantRawID: "q_1-A:terminal", wantRawSrc: "sluice/ingest",
		},
		{
			name: "space quote percent", queryID: `a b"c%d`, msgID: `id 1 "x" 50%`, source: "sluice/ingest",
			wantRawSub: "a%20b%22c%25d", wantRawID: "id%201%20%22x%22%2050%25", wantRawSrc: "sluice/ingest",
		},
		{
			name: "non-ASCII and controls", queryID: "zürich\t東京\x7f", msgID: "ü:1", source: "sluice/ingest/é",
			wantRawSub: "z%C3%BCrich%09%E6%9D%B1%E4%BA%AC%7F", wantRawID: "%C3%BC:1", wantRawSrc: "sluice/ingest/%25C3%25A9",
			wantSrc: "sluice/ingest/%C3%A9",
		},
		{
			name: "looks already encoded", queryID: "%41%zz", msgID: "%", source: "sluice/ingest",
			wantRawSub: "%2541%25zz", wantRawID: "%25", wantRawSrc: "sluice/ingest",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			payload := events.QueryCancelRequested{QueryID: c.queryID, Reason: "r"}
			msg, err := events.Encode(t.Context(), events.SubjectCancelRequested, c.msgID, c.source, events.TypeQueryCancelRequested, c.queryID, payload)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			raw := map[string]string{"ce-subject": c.wantRawSub, "ce-id": c.wantRawID, "ce-source": c.wantRawSrc}
			for k, want := range raw {
				if got := msg.Header.Get(k); got != want {
					t.Errorf("raw %s = %q, want %q", k, got, want)
				}
			}
			for k, vals := range msg.Header {
				if !strings.HasPrefix(k, "ce-") {
					continue
				}
				for _, v := range vals {
					if i := strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '"' }); i >= 0 {
						t.Errorf("header %s = %q has an unencoded byte at %d", k, v, i)
					}
				}
			}
			var got events.QueryCancelRequested
			ev, err := events.Decode(msg.Header, msg.Data, events.TypeQueryCancelRequested, &got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantSrc := c.source
			if c.wantSrc != "" {
				wantSrc = c.wantSrc
			}
			if ev.Subject() != c.queryID || ev.ID() != c.msgID || ev.Source() != wantSrc {
				t.Errorf("decoded (subject, id, source) = (%q, %q, %q), want (%q, %q, %q)",
					ev.Subject(), ev.ID(), ev.Source(), c.queryID, c.msgID, wantSrc)
			}
			if got != payload {
				t.Errorf("payload = %+v, want %+v", got, payload)
			}
		})
	}
}

func TestDecodeExtensions(t *testing.T) {
	t.Parallel()
	msg, err := events.Encode(t.Context(), events.SubjectSubmitted, "q1:submitted", "sluice/ingest", events.TypeQuerySubmitted, "q1", events.QuerySubmitted{})
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set("ce-tenant", "acme%20corp%25")
	msg.Header.Set("traceparent", "not-a-ce-header")
	ev, err := events.Decode(msg.Header, msg.Data, "", nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := ev.Extensions()["tenant"]; got != "acme corp%" {
		t.Errorf("extension tenant = %v, want %q", got, "acme corp%")
	}
	if _, ok := ev.Extensions()["traceparent"]; ok {
		t.Errorf("traceparent must not become an extension")
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	valid, err := events.Encode(t.Context(), events.SubjectCancelRequested, "q1:cancel-requested", "sluice/ingest", events.TypeQueryCancelRequested, "q1", events.QueryCancelRequested{QueryID: "q1"})
	if err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) nats.Header {
		h := nats.Header{}
		for hk, hv := range valid.Header {
			h[hk] = append([]string(nil), hv...)
		}
		if v == "" {
			delete(h, k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	cases := []struct {
		name     string
		h        nats.Header
		data     []byte
		wantType string
		is       error
		as       any
	}{
		{name: "nil header", h: nil, data: valid.Data, is: events.ErrNotCloudEvent},
		{name: "no specversion", h: with("ce-specversion", ""), data: valid.Data, is: events.ErrNotCloudEvent},
		{name: "plain NATS message", h: nats.Header{"Nats-Msg-Id": {"x"}}, data: []byte(`{}`), is: events.ErrNotCloudEvent},
		{name: "unknown specversion", h: with("ce-specversion", "9.9"), data: valid.Data, is: events.ErrNotCloudEvent},
		{name: "no id", h: with("ce-id", ""), data: valid.Data, is: events.ErrNotCloudEvent},
		{name: "no type", h: with("ce-type", ""), data: valid.Data, is: events.ErrNotCloudEvent},
		{name: "wrong type", h: valid.Header, data: valid.Data, wantType: events.TypeQueryAdmitted, is: events.ErrUnknownType},
		{name: "bad JSON", h: valid.Header, data: []byte(`{"queryId": `), wantType: events.TypeQueryCancelRequested, as: &syntaxErr},
		{name: "wrong JSON shape", h: valid.Header, data: []byte(`{"queryId": 5}`), wantType: events.TypeQueryCancelRequested, as: &typeErr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var v events.QueryCancelRequested
			_, err := events.Decode(c.h, c.data, c.wantType, &v)
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want errors.Is %v", err, c.is)
			}
			if c.as != nil {
				if !errors.As(err, c.as) {
					t.Errorf("err = %v (%T), want errors.As %T", err, err, c.as)
				}
				if errors.Is(err, events.ErrNotCloudEvent) || errors.Is(err, events.ErrUnknownType) {
					t.Errorf("payload error %v must not be classified as an envelope error", err)
				}
			}
		})
	}

	t.Run("empty wantType accepts any type", func(t *testing.T) {
		t.Parallel()
		var v events.QueryCancelRequested
		if _, err := events.Decode(valid.Header, valid.Data, "", &v); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if v.QueryID != "q1" {
			t.Errorf("QueryID = %q", v.QueryID)
		}
	})
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		msgID   string
		source  string
		ceType  string
		payload any
	}{
		{name: "empty id", msgID: "", source: "sluice/x", ceType: events.TypeFragment, payload: events.Fragment{}},
		{name: "empty type", msgID: "id", source: "sluice/x", ceType: "", payload: events.Fragment{}},
		{name: "empty source", msgID: "id", source: "", ceType: events.TypeFragment, payload: events.Fragment{}},
		{name: "unmarshalable payload", msgID: "id", source: "sluice/x", ceType: events.TypeFragment, payload: map[string]any{"c": make(chan int)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if msg, err := events.Encode(t.Context(), events.FragmentSubject("c"), c.msgID, c.source, c.ceType, "q", c.payload); err == nil {
				t.Fatalf("Encode succeeded with headers %v", msg.Header)
			}
		})
	}
}

// TestErrorInfoOf: a protocol error becomes a terminal event's error with its location;
// no error, no error info.
func TestErrorInfoOf(t *testing.T) {
	qe := protocol.NewError(protocol.SyntaxError, "line 1:8: mismatched input")
	qe.ErrorLocation = &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}
	got := events.ErrorInfoOf(qe)
	want := events.QueryErrorInfo{Message: qe.Message, ErrorCode: qe.ErrorCode, ErrorName: qe.ErrorName, ErrorType: qe.ErrorType, Line: 1, Column: 8}
	if got == nil || *got != want {
		t.Errorf("ErrorInfoOf = %+v, want %+v", got, want)
	}
	if events.ErrorInfoOf(nil) != nil {
		t.Error("ErrorInfoOf(nil) is not nil")
	}
}
