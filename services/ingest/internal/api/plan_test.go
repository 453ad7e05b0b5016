package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// binaryPlan is the binary protobuf form of a JSON plan.
func binaryPlan(tb testing.TB, jsonPlan []byte) []byte {
	tb.Helper()
	p, err := substraitplan.Decode(jsonPlan, substraitplan.ContentTypeJSON)
	check(tb, err)
	b, err := proto.Marshal(p)
	check(tb, err)
	return b
}

// samePlan fails tb unless got (binary) is the plan want (in contentType's encoding).
func samePlan(tb testing.TB, got, want []byte, contentType string) {
	tb.Helper()
	g, err := substraitplan.Decode(got, substraitplan.ContentTypeProtobuf)
	check(tb, err)
	w, err := substraitplan.Decode(want, contentType)
	check(tb, err)
	if !proto.Equal(g, w) {
		tb.Fatal("the stored plan is not the submitted one")
	}
}

// postPlan sends POST /v1/plan with a Trino user, the content type and name/value headers.
func (e *env) postPlan(body []byte, contentType string, kv ...string) *httptest.ResponseRecorder {
	return e.do("POST", "/v1/plan", headers(append([]string{"Content-Type", contentType}, kv...)...), body)
}

// accepted checks that a plan was queued and returns its submitted event.
func (e *env) accepted(tb testing.TB, w *httptest.ResponseRecorder) (protocol.QueryResults, events.QuerySpec) {
	tb.Helper()
	qr := results(tb, w)
	if w.Code != http.StatusOK || qr.Error != nil || qr.Stats.State != protocol.StateQueued || !strings.HasPrefix(qr.NextURI, "http://sluice.test/v1/statement/queued/"+qr.ID+"/") {
		tb.Fatalf("HTTP %d, not queued: %s", w.Code, w.Body.String())
	}
	spec := e.submitted(tb, qr.ID)
	if !spec.IsPlan() || spec.User != "alice" || spec.Protocol != events.ProtocolTrino || !strings.HasPrefix(spec.SQL, "-- substrait plan (") {
		tb.Errorf("submitted spec: kind %q, user %q, protocol %q, sql %q", spec.Kind, spec.User, spec.Protocol, spec.SQL)
	}
	return qr, spec
}

// TestPlanIsthmusTPCH: every Isthmus TPC-H plan is accepted as JSON and as binary
// protobuf, with its priority and cost estimate, and travels inline as binary protobuf.
func TestPlanIsthmusTPCH(t *testing.T) {
	e := newEnv(t, nil)
	jsonTypes := []string{"application/json", "application/json; charset=utf-8"}
	binaryTypes := []string{"application/x-protobuf", "application/vnd.substrait+proto", "application/octet-stream"}
	for i, q := range shareddata.TPCHPlans {
		jsonPlan := shareddata.IsthmusPlan(t, q)
		bodies := map[string][]byte{jsonTypes[i%len(jsonTypes)]: jsonPlan, binaryTypes[i%len(binaryTypes)]: binaryPlan(t, jsonPlan)}
		for contentType, body := range bodies {
			t.Run(q+" "+contentType, func(t *testing.T) {
				priority, cost := i-5, float64(i)*1.5
				_, spec := e.accepted(t, e.postPlan(body, contentType,
					"X-Sluice-Priority", strconv.Itoa(priority), "X-Sluice-Cost-Estimate", strconv.FormatFloat(cost, 'f', -1, 64)))
				if spec.Priority != priority || spec.CostEstimate != cost || spec.PlanObject != "" || len(spec.Plan) == 0 {
					t.Errorf("priority %d, cost %v, object %q, %d inline bytes", spec.Priority, spec.CostEstimate, spec.PlanObject, len(spec.Plan))
				}
				samePlan(t, spec.Plan, body, contentType)
			})
		}
	}
}

// TestPlanPollAndCancel: a plan query is polled, shown and canceled like a SQL query.
func TestPlanPollAndCancel(t *testing.T) {
	e := newEnv(t, nil)
	qr, spec := e.accepted(t, e.postPlan(shareddata.IsthmusPlan(t, "q01"), "application/json"))
	if spec.Priority != 0 || spec.CostEstimate != 0 || !strings.HasSuffix(spec.SQL, "reading LINEITEM") {
		t.Errorf("defaults: priority %d, cost %v, sql %q", spec.Priority, spec.CostEstimate, spec.SQL)
	}
	next, err := url.Parse(qr.NextURI)
	check(t, err)
	w := e.do("GET", next.Path+"?maxWait=10ms", headers(), nil)
	if poll := results(t, w); w.Code != http.StatusOK || poll.Stats.State != protocol.StateQueued || poll.NextURI == "" {
		t.Fatalf("poll: HTTP %d %s", w.Code, w.Body.String())
	}
	w = e.do("GET", "/v1/query/"+qr.ID, headers(), nil)
	var info struct{ Query, State string }
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || info.Query != spec.SQL || info.State != "QUEUED" {
		t.Errorf("query info: %v %s", err, w.Body.String())
	}
	if st, ok := e.srv.Status(t.Context(), qr.ID); !ok || len(st.Query.Plan) != 0 || !st.Query.IsPlan() {
		t.Errorf("the status view holds %d plan bytes (ok %v)", len(st.Query.Plan), ok)
	}
	if w := e.do("DELETE", next.Path, headers(), nil); w.Code != http.StatusNoContent {
		t.Errorf("cancel: HTTP %d %s", w.Code, w.Body.String())
	}
}

// largePlan is a valid plan of more than events.InlinePlanLimit bytes: one row of a
// virtual table holding a long string.
func largePlan() *substraitpb.Plan {
	str := &substraitpb.Type{Kind: &substraitpb.Type_String_{String_: &substraitpb.Type_String{Nullability: substraitpb.Type_NULLABILITY_REQUIRED}}}
	literal := &substraitpb.Expression{RexType: &substraitpb.Expression_Literal_{Literal: &substraitpb.Expression_Literal{
		LiteralType: &substraitpb.Expression_Literal_String_{String_: strings.Repeat("x", events.InlinePlanLimit+1)}}}}
	read := &substraitpb.ReadRel{
		BaseSchema: &substraitpb.NamedStruct{Names: []string{"pad"}, Struct: &substraitpb.Type_Struct{Types: []*substraitpb.Type{str}, Nullability: substraitpb.Type_NULLABILITY_REQUIRED}},
		ReadType: &substraitpb.ReadRel_VirtualTable_{VirtualTable: &substraitpb.ReadRel_VirtualTable{
			Expressions: []*substraitpb.Expression_Nested_Struct{{Fields: []*substraitpb.Expression{literal}}}}},
	}
	root := &substraitpb.RelRoot{Names: []string{"pad"}, Input: &substraitpb.Rel{RelType: &substraitpb.Rel_Read{Read: read}}}
	return &substraitpb.Plan{Relations: []*substraitpb.PlanRel{{RelType: &substraitpb.PlanRel_Root{Root: root}}}}
}

// TestPlanLargeGoesToObjectStore: a plan beyond the inline limit is stored under the query
// ID before the event that names it is published.
func TestPlanLargeGoesToObjectStore(t *testing.T) {
	e := newEnv(t, nil)
	body, err := proto.Marshal(largePlan())
	check(t, err)
	qr, spec := e.accepted(t, e.postPlan(body, "application/x-protobuf"))
	if spec.PlanObject != qr.ID || spec.Plan != nil {
		t.Fatalf("plan object %q (want %s), %d inline bytes", spec.PlanObject, qr.ID, len(spec.Plan))
	}
	stored, err := e.plans.GetBytes(t.Context(), spec.PlanObject)
	check(t, err)
	if len(stored) <= events.InlinePlanLimit {
		t.Errorf("stored %d bytes", len(stored))
	}
	samePlan(t, stored, body, substraitplan.ContentTypeProtobuf)
}

// TestPlanRefusals: a bad plan or bad headers get the protocol's error document naming
// what is wrong, and nothing is published.
func TestPlanRefusals(t *testing.T) {
	e := newEnv(t, nil)
	q01 := string(shareddata.IsthmusPlan(t, "q01"))
	cases := []struct {
		name, body, contentType string
		kv                      []string
		code                    int
		error                   protocol.ErrorCode
		contains                []string
	}{
		{"malformed JSON", `{"relations": [{"root": `, "application/json", nil, http.StatusOK, protocol.SyntaxError, []string{"cannot decode the JSON plan"}},
		{"garbage binary", "\xff\xfe garbage", "application/x-protobuf", nil, http.StatusOK, protocol.SyntaxError, []string{"cannot decode the protobuf plan"}},
		{"empty", "", "application/x-protobuf", nil, http.StatusOK, protocol.SyntaxError, []string{"empty"}},
		{"unknown function", strings.Replace(q01, `"name": "sum:dec"`, `"name": "frobnicate:dec"`, 1), "application/json", nil,
			http.StatusOK, protocol.FunctionNotFound, []string{`Function "frobnicate:dec"`}},
		{"unsupported relation", `{"relations":[{"root":{"input":{"fetch":{"input":{"extensionLeaf":{}},"count":1}},"names":["a"]}}]}`, "application/json", nil,
			http.StatusOK, protocol.NotSupported, []string{"root.input.fetch.input (ExtensionLeafRel)"}},
		{"not a plan type", q01, "text/csv", nil, http.StatusOK, protocol.NotSupported, []string{"text/csv"}},
		{"transaction", q01, "application/json", []string{"X-Trino-Transaction-Id", "tx9"}, http.StatusOK, protocol.NotSupported, []string{"Transactions"}},
		{"bad priority", q01, "application/json", []string{"X-Sluice-Priority", "urgent"}, http.StatusBadRequest, protocol.InvalidSessionProp, []string{"X-Sluice-Priority", `"urgent"`}},
		{"fractional priority", q01, "application/json", []string{"X-Sluice-Priority", "1.5"}, http.StatusBadRequest, protocol.InvalidSessionProp, []string{"integer"}},
		{"bad cost", q01, "application/json", []string{"X-Sluice-Cost-Estimate", "soon"}, http.StatusBadRequest, protocol.InvalidSessionProp, []string{"X-Sluice-Cost-Estimate", `"soon"`}},
		{"negative cost", q01, "application/json", []string{"X-Sluice-Cost-Estimate", "-2"}, http.StatusBadRequest, protocol.InvalidSessionProp, []string{"X-Sluice-Cost-Estimate", ">= 0"}},
		{"infinite cost", q01, "application/json", []string{"X-Sluice-Cost-Estimate", "+Inf"}, http.StatusBadRequest, protocol.InvalidSessionProp, []string{"finite"}},
		{"mixed header families", q01, "application/json", []string{"X-Presto-User", "bob"}, http.StatusBadRequest, protocol.GenericUserError, []string{"Both Trino and Presto"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failedWith(t, e.postPlan([]byte(c.body), c.contentType, c.kv...), c.code, c.error.Name, c.contains...)
			e.nothingSubmitted(t)
		})
	}
	t.Run("no user", func(t *testing.T) {
		failedWith(t, e.do("POST", "/v1/plan", http.Header{"Content-Type": {"application/json"}}, []byte(q01)), http.StatusBadRequest, protocol.GenericUserError.Name, "User must be set")
		e.nothingSubmitted(t)
	})
	t.Run("too large", func(t *testing.T) {
		body := make([]byte, substraitplan.MaxPlanSize+1)
		failedWith(t, e.postPlan(body, "application/x-protobuf"), http.StatusOK, protocol.QueryTextTooLarge.Name, fmt.Sprintf("maximum size (%d bytes)", substraitplan.MaxPlanSize))
		e.nothingSubmitted(t)
	})
}

// TestPlanQueueFull: while the fragment scheduler's queue is full, or its memory is at
// its soft limit, plans are refused with QUERY_QUEUE_FULL and nothing is published; below
// the limits they are accepted.
func TestPlanQueueFull(t *testing.T) {
	e := newEnv(t, nil)
	q01 := shareddata.IsthmusPlan(t, "q01")
	var heap, softLimit int64
	setLoad := func(queued, limit int, full bool) {
		t.Helper()
		b, err := json.Marshal(events.SchedulerLoad{QueuedFragments: queued, MaxQueuedFragments: limit, HeapBytes: heap, MemorySoftLimit: softLimit})
		check(t, err)
		_, err = e.sched.Put(t.Context(), events.SchedulerLoadKey, b)
		check(t, err)
		natstest.Eventually(t, within, "the scheduler load to be seen", func() bool {
			load, f := e.load.Load()
			return f == full && load.QueuedFragments == queued
		})
	}
	setLoad(40, 40, true)
	qr := failedWith(t, e.postPlan(q01, "application/json"), http.StatusOK, protocol.QueryQueueFull.Name, "holds 40 (limit 40)")
	if qr.Error.ErrorType != string(protocol.InsufficientResources) || qr.Error.ErrorCode != protocol.QueryQueueFull.Code {
		t.Errorf("error %+v", qr.Error)
	}
	e.nothingSubmitted(t)
	setLoad(39, 40, false)
	e.accepted(t, e.postPlan(q01, "application/json"))
	setLoad(1000, 0, false) // no limit
	e.accepted(t, e.postPlan(q01, "application/json"))

	heap, softLimit = 3<<30, 2<<30
	setLoad(1, 40, true)
	failedWith(t, e.postPlan(q01, "application/json"), http.StatusOK, protocol.QueryQueueFull.Name, "memory soft limit (3GB of 2GB)")
	heap = 1 << 30
	setLoad(2, 40, false)
	e.accepted(t, e.postPlan(q01, "application/json"))
}
