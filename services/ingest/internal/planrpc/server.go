package planrpc

import (
	"context"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/events"
	session "github.com/sluicehq/sluice/pkg/clientsession"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/sluicehq/sluice/services/ingest/internal/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Waits of QueryExecutionDone.
const (
	// DefaultDoneWait is the wait when the request names none.
	DefaultDoneWait = 30 * time.Second
	// MaxDoneWait bounds the wait a request may ask for.
	MaxDoneWait = 10 * time.Minute
	// maxDeadlineMargin is how long before the call's deadline the wait ends at most, so
	// that the answer arrives before the client gives up.
	maxDeadlineMargin = time.Second
)

// Intake is what the service needs of ingest's HTTP server (*api.Server): the submit path
// of POST /v1/plan and the status view that queued polls answer from.
type Intake interface {
	SubmitPlan(ctx context.Context, spec events.QuerySpec, authorization string, data []byte, contentType string) (string, *api.Refusal)
	Status(ctx context.Context, id string) (*events.QueryStatus, bool)
	WaitEnded(ctx context.Context, id string, deadline time.Time) (*events.QueryStatus, bool)
}

// Service implements PlanSchedulerServer over an Intake.
type Service struct {
	UnimplementedPlanSchedulerServer
	intake Intake
}

// Register adds the PlanScheduler service over intake to srv.
func Register(srv grpc.ServiceRegistrar, intake Intake) {
	RegisterPlanSchedulerServer(srv, &Service{intake: intake})
}

// ScheduleQuery validates the plan and queues it, exactly as POST /v1/plan does. The
// client's "authorization" metadata plays the Authorization header's part.
func (s *Service) ScheduleQuery(ctx context.Context, req *ScheduleQueryRequest) (*ScheduleQueryResponse, error) {
	if req.GetUser() == "" {
		return nil, refusalStatus(&api.Refusal{Status: http.StatusBadRequest, Err: protocol.NewError(protocol.GenericUserError, "%s", session.Message(session.ErrNoUser))})
	}
	spec := events.QuerySpec{
		Protocol: events.ProtocolTrino, User: req.GetUser(), Source: req.GetSource(),
		Catalog: req.GetCatalog(), Schema: req.GetSchema(), ClientTags: req.GetClientTags(), Session: req.GetSession(),
		Priority: int(req.GetPriority()), CostEstimate: req.GetCostEstimateSeconds(),
	}
	contentType := req.GetContentType()
	if contentType == "" {
		contentType = substraitplan.ContentTypeProtobuf
	}
	id, ref := s.intake.SubmitPlan(ctx, spec, authorization(ctx), req.GetPlan(), contentType)
	if ref != nil {
		return nil, refusalStatus(ref)
	}
	return &ScheduleQueryResponse{QueryId: id}, nil
}

// QueryJobStatus reports the query's status from the status view.
func (s *Service) QueryJobStatus(ctx context.Context, req *QueryJobStatusRequest) (*QueryJobStatusResponse, error) {
	if req.GetQueryId() == "" {
		return nil, status.Error(codes.InvalidArgument, "query_id is required")
	}
	st, ok := s.intake.Status(ctx, req.GetQueryId())
	if !ok {
		return nil, notFound(req.GetQueryId())
	}
	return statusResponse(st), nil
}

// QueryExecutionDone waits until the query ended, up to the requested wait and shortly
// before the call's deadline, and reports whether and how it ended.
func (s *Service) QueryExecutionDone(ctx context.Context, req *QueryExecutionDoneRequest) (*QueryExecutionDoneResponse, error) {
	if req.GetQueryId() == "" {
		return nil, status.Error(codes.InvalidArgument, "query_id is required")
	}
	st, ok := s.intake.WaitEnded(ctx, req.GetQueryId(), doneDeadline(ctx, req.GetMaxWaitMillis()))
	if !ok {
		return nil, notFound(req.GetQueryId())
	}
	resp := statusResponse(st)
	return &QueryExecutionDoneResponse{Done: resp.GetDone(), Status: resp}, nil
}

// doneDeadline is when a QueryExecutionDone wait ends: after the requested wait (the
// default if none, at most MaxDoneWait), and a margin before the call's deadline.
func doneDeadline(ctx context.Context, maxWaitMillis int64) time.Time {
	wait := DefaultDoneWait
	if maxWaitMillis > 0 {
		wait = time.Duration(min(maxWaitMillis, MaxDoneWait.Milliseconds())) * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok {
		early := d.Add(-min(maxDeadlineMargin, time.Until(d)/10))
		if early.Before(deadline) {
			deadline = early
		}
	}
	return deadline
}

// authorization is the call's "authorization" metadata ("" if none).
func authorization(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// notFound is the status of an unknown query ID.
func notFound(id string) error {
	return status.Errorf(codes.NotFound, "Query %s not found", id)
}

// states maps the status view's states to the service's.
var states = map[events.QueryState]QueryState{
	events.StateQueued: QueryState_QUERY_STATE_QUEUED, events.StateAdmitted: QueryState_QUERY_STATE_ADMITTED,
	events.StatePlaced: QueryState_QUERY_STATE_PLACED, events.StateRunning: QueryState_QUERY_STATE_RUNNING,
	events.StateFinished: QueryState_QUERY_STATE_FINISHED, events.StateFailed: QueryState_QUERY_STATE_FAILED,
	events.StateCanceled: QueryState_QUERY_STATE_CANCELED,
}

// statusResponse renders a status of the status view.
func statusResponse(st *events.QueryStatus) *QueryJobStatusResponse {
	resp := &QueryJobStatusResponse{
		QueryId: st.Query.ID, State: states[st.State], Done: st.State.Terminal(),
		NextUri: st.NextURI, Cluster: st.Cluster, QueuedReason: st.QueuedReason, ResourceGroup: st.Group,
		QueuedMillis: api.QueuedMillis(st), ElapsedMillis: api.ElapsedMillis(st),
	}
	if qe := api.StatusError(st); qe != nil {
		resp.Error = queryError(qe, st.Query.ID)
	}
	return resp
}

// queryError renders a protocol error.
func queryError(qe *protocol.QueryError, id string) *QueryError {
	return &QueryError{Message: qe.Message, ErrorCode: int32(qe.ErrorCode), ErrorName: qe.ErrorName, ErrorType: qe.ErrorType, QueryId: id}
}

// refusalStatus is the gRPC status of a refused submission, with the protocol error as a
// QueryError detail.
func refusalStatus(ref *api.Refusal) error {
	code := codes.InvalidArgument
	switch {
	case ref.Status == http.StatusServiceUnavailable:
		code = codes.Unavailable
	case ref.Status >= http.StatusInternalServerError:
		code = codes.Internal
	case ref.Err.ErrorType == string(protocol.InsufficientResources):
		code = codes.ResourceExhausted
	case ref.Err.ErrorType == string(protocol.InternalError), ref.Err.ErrorType == string(protocol.External):
		code = codes.Internal
	}
	st, err := status.New(code, ref.Err.Message).WithDetails(queryError(ref.Err, ref.QueryID))
	if err != nil {
		return status.Error(code, ref.Err.Message)
	}
	return st.Err()
}
