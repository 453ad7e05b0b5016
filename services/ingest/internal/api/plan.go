package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/sluicehq/sluice/services/ingest/internal/planintake"
)

// errPlanIDTaken: the plan store already holds a plan under the minted query ID.
var errPlanIDTaken = errors.New("a plan is already stored under this query ID")

// submitPlan: POST /v1/plan, a Substrait plan (binary protobuf or JSON) with the headers of
// POST /v1/statement plus X-Sluice-Priority and X-Sluice-Cost-Estimate. The answer is the
// same QueryResults protocol; every refusal is a failed query's QueryResults too.
func (s *Server) submitPlan(w http.ResponseWriter, r *http.Request) {
	s.handleSubmit(w, r, "POST /v1/plan", s.planBody, s.refusePlan)
}

// planBody reads the plan's headers and body and prepares the plan.
func (s *Server) planBody(r *http.Request, sub *submission) *Refusal {
	var err error
	if sub.spec.Priority, err = planintake.ParsePriority(r.Header.Get(planintake.HeaderPriority)); err != nil {
		return badRequest(protocol.InvalidSessionProp, "%v", err)
	}
	if sub.spec.CostEstimate, err = planintake.ParseCost(r.Header.Get(planintake.HeaderCostEstimate)); err != nil {
		return badRequest(protocol.InvalidSessionProp, "%v", err)
	}
	body, tooLarge, err := readBody(r, substraitplan.MaxPlanSize)
	switch {
	case err != nil:
		return badRequest(protocol.GenericUserError, "cannot read request body: %v", err)
	case tooLarge:
		return failed(planintake.TooLarge(len(body)))
	}
	return s.preparePlan(sub, body, r.Header.Get("Content-Type"))
}

// refusePlan answers every refusal with a failed query's QueryResults and the refusal's
// HTTP status: plan clients always get the protocol's error document.
func (s *Server) refusePlan(w http.ResponseWriter, base string, ref *Refusal) {
	s.writeFailed(w, ref.Status, base, s.refusedID(ref), ref.Err)
}

// SubmitPlan puts a plan query into the global queue, as POST /v1/plan does: spec carries
// the identity, session, priority and cost estimate; authorization is the client's
// credentials (sealed into the spec when a credentials key is configured); data is the
// plan in contentType's encoding. It returns the query's ID, or why it was refused.
func (s *Server) SubmitPlan(ctx context.Context, spec events.QuerySpec, authorization string, data []byte, contentType string) (string, *Refusal) {
	sub := &submission{spec: spec, auth: authorization}
	ref := s.preparePlan(sub, data, contentType)
	if ref == nil {
		ref = s.accept(ctx, sub)
	}
	if ref != nil {
		return "", ref
	}
	return sub.spec.ID, nil
}

// preparePlan refuses the plan while the fragment scheduler's queue is full (before
// spending time on it), checks its cost estimate, validates it and makes it the query.
func (s *Server) preparePlan(sub *submission, data []byte, contentType string) *Refusal {
	if s.opts.SchedulerLoad != nil {
		if load, full := s.opts.SchedulerLoad.Load(); full {
			if load.MaxQueuedFragments > 0 && load.QueuedFragments >= load.MaxQueuedFragments {
				return failed(protocol.NewError(protocol.QueryQueueFull, "Too many queued fragments: the fragment scheduler holds %d (limit %d); retry later",
					load.QueuedFragments, load.MaxQueuedFragments))
			}
			return failed(protocol.NewError(protocol.QueryQueueFull, "The fragment scheduler is at its memory soft limit (%s of %s); retry later",
				protocol.FormatDataSize(load.HeapBytes), protocol.FormatDataSize(load.MemorySoftLimit)))
		}
	}
	if err := planintake.CheckCost(sub.spec.CostEstimate); err != nil {
		return badRequest(protocol.InvalidSessionProp, "%v", err)
	}
	plan, err := planintake.Prepare(data, contentType)
	if err != nil {
		var qe *protocol.QueryError
		if !errors.As(err, &qe) {
			qe = protocol.NewError(protocol.SyntaxError, "%v", err)
		}
		return failed(qe)
	}
	sub.plan = plan
	sub.spec.Kind = events.KindPlan
	sub.spec.SQL = plan.Description()
	return nil
}

// stagePlan puts a plan query's plan into its spec when it is small enough to travel in
// the event, else into the plan store under the query ID (before the event is published,
// so that whoever reads the event finds the plan).
func (s *Server) stagePlan(ctx context.Context, sub *submission) error {
	sub.spec.Plan, sub.spec.PlanObject = nil, ""
	switch {
	case sub.plan == nil:
		return nil
	case len(sub.plan.Binary) <= events.InlinePlanLimit:
		sub.spec.Plan = sub.plan.Binary
		return nil
	case s.opts.Plans == nil:
		return errors.New("no plan object store")
	}
	if _, err := s.opts.Plans.GetInfo(ctx, sub.spec.ID); err == nil {
		return errPlanIDTaken
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return err
	}
	if _, err := s.opts.Plans.PutBytes(ctx, sub.spec.ID, sub.plan.Binary); err != nil {
		return err
	}
	sub.spec.PlanObject = sub.spec.ID
	return nil
}

// unstagePlan deletes the stored plan of a submission that was not published (best
// effort: the store's TTL removes what is left).
func (s *Server) unstagePlan(ctx context.Context, sub *submission) {
	if sub.spec.PlanObject == "" {
		return
	}
	if err := s.opts.Plans.Delete(context.WithoutCancel(ctx), sub.spec.PlanObject); err != nil {
		s.log.Warn("submit: cannot delete an unpublished plan", "object", sub.spec.PlanObject, "err", err)
	}
	sub.spec.PlanObject = ""
}
