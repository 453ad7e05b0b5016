package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/events"
	session "github.com/sluicehq/sluice/pkg/clientsession"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/ingest/internal/planintake"
	"github.com/sluicehq/sluice/services/ingest/internal/statusview"
	"go.opentelemetry.io/otel/trace"
)

// Refusal is why a request did not put a query into the global queue: a protocol error and
// the HTTP status that answers it.
type Refusal struct {
	// Status is 200 for a query that failed (the answer is a failed query's QueryResults),
	// 400 for a malformed request, 503 when the global queue cannot take the query now
	// (clients retry) and 500 for a fault of Sluice's.
	Status int
	// QueryID is the ID the query was given before it failed ("" if none).
	QueryID string
	// Err is the protocol error.
	Err *protocol.QueryError
}

// failed refuses a query with a protocol error (HTTP 200, as a coordinator fails a query).
func failed(qe *protocol.QueryError) *Refusal { return &Refusal{Status: http.StatusOK, Err: qe} }

// badRequest refuses a malformed request (HTTP 400).
func badRequest(code protocol.ErrorCode, format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusBadRequest, Err: protocol.NewError(code, format, args...)}
}

// unavailable refuses a query the global queue cannot take now (HTTP 503: clients retry).
func unavailable(format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusServiceUnavailable, Err: protocol.NewError(protocol.GenericInternalError, format, args...)}
}

// submission is a query on its way into the global queue.
type submission struct {
	spec events.QuerySpec
	// auth is the client's Authorization header, sealed into the spec when a credentials
	// key is configured.
	auth string
	// plan is a plan query's validated plan (nil for SQL).
	plan *planintake.Plan
}

// bodyReader completes a submission from the request body (the SQL text, or the plan),
// or refuses it.
type bodyReader func(r *http.Request, sub *submission) *Refusal

// refusalWriter answers a refused POST.
type refusalWriter func(w http.ResponseWriter, base string, ref *Refusal)

// submitStatement: POST /v1/statement. The query is acknowledged only after JetStream
// stored the submitted event (invariant 1).
func (s *Server) submitStatement(w http.ResponseWriter, r *http.Request) {
	s.handleSubmit(w, r, "POST /v1/statement", s.statementBody, s.refuseStatement)
}

// handleSubmit is the path of every POST that submits a query: the identity and session
// headers, the body, the publish and the queued QueryResults answer.
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request, op string, body bodyReader, refuse refusalWriter) {
	ctx, span := s.tracer.Start(r.Context(), op, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	base := s.base(r)
	spec, err := session.Parse(r.Header)
	if err != nil {
		refuse(w, base, badRequest(protocol.GenericUserError, "%s", session.Message(err)))
		return
	}
	sub := &submission{spec: spec, auth: r.Header.Get("Authorization")}
	ref := body(r, sub)
	if ref == nil {
		ref = s.accept(ctx, sub)
	}
	if ref != nil {
		refuse(w, base, ref)
		return
	}
	writeJSON(w, protocol.QueryResults{
		ID:       sub.spec.ID,
		InfoURI:  infoURI(base, sub.spec.ID),
		NextURI:  s.queuedURI(base, sub.spec.Protocol, sub.spec.ID, 1),
		Stats:    protocol.QueuedStats(0, 0),
		Warnings: []protocol.Warning{},
	})
}

// statementBody reads the SQL text of POST /v1/statement.
func (s *Server) statementBody(r *http.Request, sub *submission) *Refusal {
	body, tooLarge, err := readBody(r, s.opts.MaxQueryBytes)
	if err != nil {
		return badRequest(protocol.GenericUserError, "cannot read request body: %v", err)
	}
	sub.spec.SQL = strings.TrimSpace(string(body))
	switch {
	case sub.spec.SQL == "":
		return badRequest(protocol.SyntaxError, "SQL statement is empty")
	case tooLarge:
		return failed(protocol.NewError(protocol.QueryTextTooLarge, "Query text length (%d) exceeds the maximum length (%d)", len(body), s.opts.MaxQueryBytes))
	}
	return nil
}

// readBody reads at most limit bytes of the request body, and one more to tell whether it
// is longer.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	return body, len(body) > limit, err
}

// refuseStatement answers as a coordinator does: a failed query with its QueryResults, a
// malformed request or an unavailable queue with the message as plain text.
func (s *Server) refuseStatement(w http.ResponseWriter, base string, ref *Refusal) {
	if ref.Status != http.StatusOK {
		http.Error(w, ref.Err.Message, ref.Status)
		return
	}
	s.writeFailed(w, http.StatusOK, base, s.refusedID(ref), ref.Err)
}

// refusedID is the refused query's ID, minted now if it had none: every failed query's
// QueryResults has an ID.
func (s *Server) refusedID(ref *Refusal) string {
	if ref.QueryID != "" {
		return ref.QueryID
	}
	return s.minter.NewID()
}

// accept puts a prepared submission into the global queue and waits up to VerdictWait for
// admission's verdict. On success sub.spec.ID is the query's ID.
func (s *Server) accept(ctx context.Context, sub *submission) *Refusal {
	if sub.spec.TransactionID != "" {
		return failed(protocol.NewError(protocol.NotSupported, "Transactions are not supported by Sluice yet: send %sTransaction-Id: NONE", session.Prefix(sub.spec.Protocol)))
	}
	sub.spec.SubmittedAt = time.Now().UTC()
	if ref := s.publish(ctx, sub); ref != nil {
		return ref
	}
	s.cache.Offer(&events.QueryStatus{Query: statusview.Slim(sub.spec), State: events.StateQueued})
	s.touch(sub.spec.ID)
	s.mu.Lock()
	s.tokens[sub.spec.ID] = 0
	s.mu.Unlock()
	return s.awaitVerdict(ctx, sub.spec.ID)
}

// maxMints bounds how often publish mints a new ID after a collision.
const maxMints = 3

// publish mints the query's ID and publishes the submitted event, minting again when the
// ID is taken (another replica's query with the same ID).
func (s *Server) publish(ctx context.Context, sub *submission) *Refusal {
	for attempt := 0; ; attempt++ {
		sub.spec.ID = s.minter.NewID()
		trace.SpanFromContext(ctx).SetAttributes(events.AttrQueryID.String(sub.spec.ID))
		taken, ref := s.publishOnce(ctx, sub)
		if ref != nil || !taken || attempt >= maxMints {
			return ref
		}
		s.unstagePlan(ctx, sub)
	}
}

// publishOnce seals the credentials, stores a large plan and publishes the submitted event
// under the current ID. taken reports that the ID belongs to another query.
func (s *Server) publishOnce(ctx context.Context, sub *submission) (taken bool, ref *Refusal) {
	if s.opts.Credentials != nil && sub.auth != "" {
		sealed, err := s.opts.Credentials.Seal(sub.spec.ID, sub.auth)
		if err != nil {
			return false, &Refusal{Status: http.StatusInternalServerError, Err: protocol.NewError(protocol.GenericInternalError, "cannot seal the credentials: %v", err)}
		}
		sub.spec.SealedAuthorization = sealed
	}
	switch err := s.stagePlan(ctx, sub); {
	case errors.Is(err, errPlanIDTaken):
		return true, nil
	case err != nil:
		s.log.Error("submit: plan store failed", "query", sub.spec.ID, "err", err)
		return false, unavailable("Sluice cannot accept plans right now: the plan store is unavailable")
	}
	ack, err := s.pub.Publish(ctx, events.SubjectSubmitted, events.MsgIDSubmitted(sub.spec.ID), sub.spec.ID, events.TypeQuerySubmitted, events.QuerySubmitted{Query: sub.spec})
	if err != nil {
		s.unstagePlan(ctx, sub)
		s.log.Error("submit: publish failed", "err", err)
		return false, unavailable("Sluice cannot accept queries right now: the global queue is unavailable")
	}
	return ack.Duplicate, nil
}

// awaitVerdict waits up to VerdictWait for admission's verdict, so that a query refused
// before it ever waited in a group (QUERY_QUEUE_FULL, no selector, ...) fails the POST
// itself.
func (s *Server) awaitVerdict(ctx context.Context, id string) *Refusal {
	if s.opts.VerdictWait <= 0 {
		return nil
	}
	st := s.waitUntil(ctx, id, time.Now().Add(s.opts.VerdictWait), hasVerdict)
	if st != nil && (st.State == events.StateFailed || st.State == events.StateCanceled) && st.NextURI == "" {
		return &Refusal{Status: http.StatusOK, QueryID: id, Err: toProtocolError(st.Error, st.State)}
	}
	return nil
}

// touch records that the query's client asked about it now (abandonment is measured from
// the last POST, poll or status request this replica served).
func (s *Server) touch(id string) {
	s.mu.Lock()
	s.lastSeen[id] = time.Now()
	s.mu.Unlock()
}
