package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/sluicehq/sluice/services/ingest"
	"github.com/sluicehq/sluice/services/ingest/internal/planrpc"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const within = 10 * time.Second

// fleet is ingest (HTTP and gRPC on 127.0.0.1:0) on an embedded JetStream, and a gRPC
// client of its plan service.
type fleet struct {
	js     jetstream.JetStream
	pub    *events.Publisher
	client planrpc.PlanSchedulerClient
}

// startIngest runs ingest.Run until the test ends; before runs first (on the JetStream
// with Sluice's topology).
func startIngest(t *testing.T, before func(js jetstream.JetStream)) *fleet {
	t.Helper()
	ns, conn := natstest.RunSluice(t)
	if before != nil {
		before(conn.JS)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	grpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	topo := events.DefaultTopology()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- ingest.Run(ctx, ingest.Config{Server: ns, Listener: httpLn, GRPCListener: grpcLn, Topology: &topo, ClientTimeout: time.Minute,
			Logger: slog.New(slog.DiscardHandler), Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest.Run: %v", err)
		}
	})
	natstest.Receive(t, within, "ingest to be ready", ready)
	cc, err := grpc.NewClient(grpcLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	check(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return &fleet{js: conn.JS, pub: events.NewPublisher(conn.JS, "test", noop.NewTracerProvider().Tracer("test")), client: planrpc.NewPlanSchedulerClient(cc)}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lastSubmitted returns the latest submitted event.
func (f *fleet) lastSubmitted(t *testing.T) events.QuerySpec {
	t.Helper()
	msg, err := f.lastSubmittedOrNone(t)
	check(t, err)
	var p events.QuerySubmitted
	_, err = events.Decode(msg.Header, msg.Data, events.TypeQuerySubmitted, &p)
	check(t, err)
	return p.Query
}

// publish stores a lifecycle event of query id, as the services downstream do.
func (f *fleet) publish(t *testing.T, subject, msgID, id, ceType string, payload any) {
	t.Helper()
	_, err := f.pub.Publish(t.Context(), subject, msgID, id, ceType, payload)
	check(t, err)
}

// q01 returns TPC-H Q1's Isthmus plan as binary protobuf, padded with an expected type
// URL of pad bytes.
func q01(t *testing.T, pad int) []byte {
	t.Helper()
	p, err := substraitplan.Decode(shareddata.IsthmusPlan(t, "q01"), substraitplan.ContentTypeJSON)
	check(t, err)
	if pad > 0 {
		p.ExpectedTypeUrls = append(p.ExpectedTypeUrls, strings.Repeat("x", pad))
	}
	b, err := proto.Marshal(p)
	check(t, err)
	return b
}

// wantRefusal checks a gRPC status and its QueryError detail.
func wantRefusal(t *testing.T, err error, code codes.Code, name string, contains string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(st.Message(), contains) {
		t.Fatalf("status %v %q, want %v with %q", st.Code(), st.Message(), code, contains)
	}
	for _, d := range st.Details() {
		if qe, ok := d.(*planrpc.QueryError); ok && qe.GetErrorName() == name && qe.GetMessage() == st.Message() {
			return
		}
	}
	t.Errorf("no QueryError %s among the details %v", name, st.Details())
}

// TestGRPCScheduleStatusDone: a plan scheduled over gRPC is submitted like POST /v1/plan's,
// its status follows the status view, and QueryExecutionDone long-polls until it ends.
func TestGRPCScheduleStatusDone(t *testing.T) {
	f := startIngest(t, nil)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Basic YWxpY2U6cHc=")
	plan := q01(t, 0)
	resp, err := f.client.ScheduleQuery(ctx, &planrpc.ScheduleQueryRequest{Plan: plan, User: "alice", Catalog: "tpch", Schema: "tiny",
		Source: "engine", ClientTags: []string{"etl"}, Priority: 3, CostEstimateSeconds: 2.5})
	check(t, err)
	id := resp.GetQueryId()
	spec := f.lastSubmitted(t)
	if spec.ID != id || !spec.IsPlan() || spec.User != "alice" || spec.Catalog != "tpch" || spec.Source != "engine" || spec.Priority != 3 || spec.CostEstimate != 2.5 ||
		!strings.HasPrefix(spec.SQL, "-- substrait plan") || !proto.Equal(decode(t, spec.Plan), decode(t, plan)) {
		t.Fatalf("submitted %+v", spec)
	}

	st, err := f.client.QueryJobStatus(t.Context(), &planrpc.QueryJobStatusRequest{QueryId: id})
	check(t, err)
	if st.GetState() != planrpc.QueryState_QUERY_STATE_QUEUED || st.GetDone() || st.GetNextUri() != "" {
		t.Fatalf("status %v", st)
	}
	done, err := f.client.QueryExecutionDone(t.Context(), &planrpc.QueryExecutionDoneRequest{QueryId: id, MaxWaitMillis: 20})
	check(t, err)
	if done.GetDone() || done.GetStatus().GetState() != planrpc.QueryState_QUERY_STATE_QUEUED {
		t.Fatalf("done before it ran: %v", done)
	}
	short, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if done, err := f.client.QueryExecutionDone(short, &planrpc.QueryExecutionDoneRequest{QueryId: id, MaxWaitMillis: time.Minute.Milliseconds()}); err != nil || done.GetDone() {
		t.Fatalf("a wait longer than the call's deadline: %v, %v (want an answer before the deadline)", done, err)
	}

	waited := make(chan *planrpc.QueryExecutionDoneResponse, 1)
	go func() {
		d, err := f.client.QueryExecutionDone(context.Background(), &planrpc.QueryExecutionDoneRequest{QueryId: id, MaxWaitMillis: within.Milliseconds()})
		if err != nil {
			t.Error(err)
		}
		waited <- d
	}()
	next := "http://c1.test/v1/statement/executing/" + id + "/y1/0"
	f.publish(t, events.SubjectStarted, events.MsgIDStarted(id, 1), id, events.TypeQueryStarted, events.QueryStarted{QueryID: id, Cluster: "c1", Attempt: 1, NextURI: next, StartedAt: time.Now()})
	natstest.Eventually(t, within, "the status to show the start", func() bool {
		st, err := f.client.QueryJobStatus(t.Context(), &planrpc.QueryJobStatusRequest{QueryId: id})
		return err == nil && st.GetState() == planrpc.QueryState_QUERY_STATE_RUNNING && st.GetNextUri() == next && st.GetCluster() == "c1"
	})
	f.publish(t, events.SubjectFinished, events.MsgIDTerminal(id), id, events.TypeQueryFinished, events.QueryEnded{QueryID: id, Cluster: "c1", EndedAt: time.Now(), Rows: 4, By: "test"})
	d := natstest.Receive(t, within, "QueryExecutionDone to return", waited)
	if !d.GetDone() || d.GetStatus().GetState() != planrpc.QueryState_QUERY_STATE_FINISHED || d.GetStatus().GetError() != nil || d.GetStatus().GetNextUri() != next {
		t.Fatalf("done %v", d)
	}
}

func decode(t *testing.T, b []byte) proto.Message {
	t.Helper()
	p, err := substraitplan.Decode(b, substraitplan.ContentTypeProtobuf)
	check(t, err)
	return p
}

// TestGRPCLargePlan: a plan beyond gRPC's default 4 MiB message limit is accepted and
// stored in the plan store.
func TestGRPCLargePlan(t *testing.T) {
	f := startIngest(t, nil)
	resp, err := f.client.ScheduleQuery(t.Context(), &planrpc.ScheduleQueryRequest{Plan: q01(t, 6<<20), User: "alice"})
	check(t, err)
	if spec := f.lastSubmitted(t); spec.ID != resp.GetQueryId() || spec.PlanObject != spec.ID || spec.Plan != nil {
		t.Fatalf("submitted %s: plan object %q, %d inline bytes", spec.ID, spec.PlanObject, len(spec.Plan))
	}
}

// TestGRPCFailedQuery: a failed query's status carries its protocol error.
func TestGRPCFailedQuery(t *testing.T) {
	f := startIngest(t, nil)
	resp, err := f.client.ScheduleQuery(t.Context(), &planrpc.ScheduleQueryRequest{
		Plan: shareddata.IsthmusPlan(t, "q06"), ContentType: "application/json", User: "bob"})
	check(t, err)
	id := resp.GetQueryId()
	qe := &events.QueryErrorInfo{Message: "fragment f2 failed", ErrorCode: protocol.SluiceBackendError.Code, ErrorName: protocol.SluiceBackendError.Name, ErrorType: string(protocol.External)}
	f.publish(t, events.SubjectFailed, events.MsgIDTerminal(id), id, events.TypeQueryFailed, events.QueryEnded{QueryID: id, EndedAt: time.Now(), Error: qe, By: "test"})
	d, err := f.client.QueryExecutionDone(t.Context(), &planrpc.QueryExecutionDoneRequest{QueryId: id})
	check(t, err)
	e := d.GetStatus().GetError()
	if !d.GetDone() || d.GetStatus().GetState() != planrpc.QueryState_QUERY_STATE_FAILED || e.GetErrorName() != qe.ErrorName || e.GetMessage() != qe.Message || e.GetQueryId() != id {
		t.Fatalf("done %v", d)
	}
}

// TestGRPCRefusals: the gRPC door refuses what POST /v1/plan refuses, with a gRPC code and
// the protocol error as a detail.
func TestGRPCRefusals(t *testing.T) {
	f := startIngest(t, nil)
	plan := q01(t, 0)
	cases := []struct {
		name     string
		req      *planrpc.ScheduleQueryRequest
		code     codes.Code
		error    protocol.ErrorCode
		contains string
	}{
		{"garbage", &planrpc.ScheduleQueryRequest{Plan: []byte("\xff\xfe"), User: "alice"}, codes.InvalidArgument, protocol.SyntaxError, "cannot decode the protobuf plan"},
		{"unsupported", &planrpc.ScheduleQueryRequest{Plan: []byte(`{"relations":[{"root":{"input":{"extensionLeaf":{}},"names":["a"]}}]}`), ContentType: "application/json", User: "alice"},
			codes.InvalidArgument, protocol.NotSupported, "root.input (ExtensionLeafRel)"},
		{"no user", &planrpc.ScheduleQueryRequest{Plan: plan}, codes.InvalidArgument, protocol.GenericUserError, "User must be set"},
		{"negative cost", &planrpc.ScheduleQueryRequest{Plan: plan, User: "alice", CostEstimateSeconds: -1}, codes.InvalidArgument, protocol.InvalidSessionProp, ">= 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.client.ScheduleQuery(t.Context(), c.req)
			wantRefusal(t, err, c.code, c.error.Name, c.contains)
		})
	}
	for _, id := range []string{"", "20260101_000000_00001_nope"} {
		_, err := f.client.QueryJobStatus(t.Context(), &planrpc.QueryJobStatusRequest{QueryId: id})
		_, derr := f.client.QueryExecutionDone(t.Context(), &planrpc.QueryExecutionDoneRequest{QueryId: id})
		want := codes.NotFound
		if id == "" {
			want = codes.InvalidArgument
		}
		if status.Code(err) != want || status.Code(derr) != want {
			t.Errorf("query %q: status %v, done %v; want %v", id, err, derr, want)
		}
	}
	if _, err := f.lastSubmittedOrNone(t); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("a refused plan was submitted (%v)", err)
	}
}

// lastSubmittedOrNone reads the latest submitted event's message.
func (f *fleet) lastSubmittedOrNone(t *testing.T) (*jetstream.RawStreamMsg, error) {
	t.Helper()
	stream, err := f.js.Stream(t.Context(), events.StreamQueries)
	check(t, err)
	return stream.GetLastMsgForSubject(t.Context(), events.SubjectSubmitted)
}

// TestGRPCQueueFull: ScheduleQuery answers RESOURCE_EXHAUSTED with QUERY_QUEUE_FULL while
// the fragment scheduler's queue is full.
func TestGRPCQueueFull(t *testing.T) {
	f := startIngest(t, func(js jetstream.JetStream) {
		kv, err := js.KeyValue(t.Context(), events.BucketScheduler)
		check(t, err)
		b, err := json.Marshal(events.SchedulerLoad{QueuedFragments: 8, MaxQueuedFragments: 8})
		check(t, err)
		_, err = kv.Put(t.Context(), events.SchedulerLoadKey, b)
		check(t, err)
	})
	_, err := f.client.ScheduleQuery(t.Context(), &planrpc.ScheduleQueryRequest{Plan: q01(t, 0), User: "alice"})
	wantRefusal(t, err, codes.ResourceExhausted, protocol.QueryQueueFull.Name, "holds 8 (limit 8)")
	if _, err := f.lastSubmittedOrNone(t); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("a plan was submitted while the queue was full (%v)", err)
	}
}
