// Package admission decides, for the whole fleet at once, which submitted query runs next:
// Presto/Trino resource groups (selectors, templates, limits on every ancestor, the four
// scheduling policies, CPU quotas, soft memory limits) over one durable global queue.
//
// Every replica folds the QUERIES log into the same state (standbys stay hot). One replica
// leads, chosen by a KV lease. A new leader first writes a term marker
// (sluice.admission.term) and folds the log up to it, so it has seen every decision of every
// earlier leader; then every write it makes is fenced on that marker's sequence, so the
// marker of any later leader makes its writes fail. Limits therefore hold across replicas
// and failovers.
//
// Consumes (replay + follow): sluice.query.submitted, .cancel-requested, .queued, .admitted,
// the terminal events and sluice.admission.term; cluster heartbeats (fleet memory); the
// resource-group configuration in SLUICE_CONFIG. Publishes: a verdict for every submission
// (sluice.query.queued, sluice.query.admitted, or sluice.query.rejected), admissions of
// queued queries, sluice.query.canceled for queued queries whose cancel was requested.
// Answers explain requests (group state, why a query waits) over NATS request/reply.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/heartbeat"
	"github.com/sluicehq/sluice/pkg/lease"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqltext"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/internal/state"
	"github.com/sluicehq/sluice/services/admission/rgspec"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the admission service (environment variables SLUICE_*).
type Config struct {
	NatsURL            string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	ResourceGroupsFile string        `envconfig:"RESOURCE_GROUPS" desc:"resource-group file (Trino/Presto JSON); watched, and published to the SLUICE_CONFIG bucket for every replica"`
	UserGroupsFile     string        `envconfig:"USER_GROUPS" desc:"user-to-group mapping for userGroup selectors (lines group:user1,user2); watched like the resource-group file"`
	MaxRunning         int           `envconfig:"MAX_RUNNING" default:"8" desc:"without a resource-group configuration: the fleet-wide limit of running queries (one group, global)"`
	MaxQueued          int           `envconfig:"MAX_QUEUED" default:"100000" desc:"without a resource-group configuration: the fleet-wide limit of queued queries (0 = 100000)"`
	StarvationAge      time.Duration `envconfig:"STARVATION_AGE" default:"5m" desc:"a query queued longer than this is reported, and starts before any policy choice once its groups have room (0 disables)"`
	ConfigPoll         time.Duration `envconfig:"CONFIG_POLL" default:"1s" desc:"how often the resource-group and user-group files are checked for changes"`
	LeaseRenew         time.Duration `envconfig:"LEASE_RENEW" default:"250ms" desc:"leader lease renewal interval (a lease not renewed for 1.5s expires)"`
	SnapshotEvery      int           `envconfig:"ADMISSION_SNAPSHOT_EVERY" default:"100000" desc:"the leader stores a snapshot of its state every this many events, so that a new replica replays only the log after it (0 disables snapshots)"`
	Identity           string        `envconfig:"ADMISSION_ID" desc:"replica identity in the lease (default host:pid)"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

// leaseKey is the lease of the admission leader in events.BucketLeases.
const leaseKey = "admission"

// ErrNoConfig: there is no valid resource-group configuration to start with.
var ErrNoConfig = errors.New("admission: no valid resource-group configuration")

type service struct {
	cfg    Config
	js     jetstream.JetStream
	log    *slog.Logger
	pub    *events.Publisher
	tracer trace.Tracer
	wake   chan struct{}

	mu         sync.Mutex
	st         *state.State
	rg         *rgspec.Config
	rgText     string
	userGroups rgspec.UserGroups
	fleet      map[string]int64 // cluster -> reported memory bytes
	starveLog  time.Time
}

// Run folds the log and, while leader, decides until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.MaxRunning < 0 || cfg.MaxQueued < 0 {
		return fmt.Errorf("admission: MaxRunning and MaxQueued must be >= 0, got %d and %d", cfg.MaxRunning, cfg.MaxQueued)
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = 100000
	}
	if cfg.ConfigPoll <= 0 {
		cfg.ConfigPoll = time.Second
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	conn, log, err := svc.Start(ctx, svc.Options{Name: "admission", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	tracer := otel.Tracer("sluice/admission")
	s := &service{cfg: cfg, js: conn.JS, log: log, tracer: tracer, wake: make(chan struct{}, 1), fleet: map[string]int64{},
		pub: events.NewPublisher(conn.JS, "sluice/admission", tracer)}
	configKV, err := conn.JS.KeyValue(ctx, events.BucketConfig)
	if err != nil {
		return err
	}
	if err := s.loadConfig(ctx, configKV); err != nil {
		return err
	}
	if err := s.watchConfig(ctx, configKV); err != nil {
		return err
	}
	go s.watchFiles(ctx, configKV)
	if err := s.watchFleet(ctx, conn.JS); err != nil {
		return err
	}
	explain, err := s.serveExplain(conn.NC)
	if err != nil {
		return err
	}
	defer func() { _ = explain.Stop() }()
	leases, err := conn.JS.KeyValue(ctx, events.BucketLeases)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		// One incarnation of the fold: replay, then campaign. A leader whose write failed
		// cannot trust its state: it steps down, and the fold is rebuilt from the log.
		if err := s.incarnation(ctx, conn.JS, leases); err != nil && ctx.Err() == nil {
			log.Warn("admission state rebuilt from the log", "cause", err)
		}
	}
	return nil
}

var foldSubjects = []string{
	events.SubjectSubmitted, events.SubjectCancelRequested, events.SubjectQueued, events.SubjectAdmitted,
	events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected,
	events.SubjectProgress, events.SubjectAdmissionTerm,
}

func (s *service) incarnation(ctx context.Context, js jetstream.JetStream, leases jetstream.KeyValue) error {
	started := time.Now()
	st := s.restore(ctx, js, groups.Options{StarvationAge: s.cfg.StarvationAge, Seed: uint64(time.Now().UnixNano())})
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	f, err := s.fold(ctx, js, st.LastSeq+1)
	if err != nil || f == nil {
		return err
	}
	defer f.Stop()
	s.mu.Lock()
	running, queued := s.st.Tree.Counts()
	s.mu.Unlock()
	s.log.Info("admission state folded", "running", running, "queued", queued, "took", time.Since(started).Round(time.Millisecond), "identity", s.cfg.Identity)
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sn := newSnapshotter(s.cfg.SnapshotEvery, st.LastSeq)
	_ = lease.Campaign(cctx, leases, leaseKey, s.cfg.Identity, s.cfg.LeaseRenew, func(lctx context.Context, term lease.Term) {
		if err := s.lead(lctx, term, sn); err != nil && lctx.Err() == nil {
			cancel(err)
		}
	})
	return context.Cause(cctx)
}

// fold replays the log from sequence from into s.st and returns once it caught up (nil
// follower if ctx ended first); the follower keeps folding new events until stopped. The
// replay allocates much and retains little, so the collector runs less often until it
// caught up.
func (s *service) fold(ctx context.Context, js jetstream.JetStream, from uint64) (*follow.Follower, error) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	f, err := follow.StartAt(ctx, js, events.StreamQueries, foldSubjects, from, s.apply)
	if err != nil {
		return nil, err
	}
	select {
	case <-f.CaughtUp():
		return f, nil
	case <-ctx.Done():
		f.Stop()
		return nil, nil
	}
}

func (s *service) apply(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	s.mu.Lock()
	err = s.st.Apply(msg.Subject(), md.Sequence.Stream, msg.Headers(), msg.Data())
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("skipping malformed event", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", err)
	}
	s.poke()
}

func (s *service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lead decides while this replica holds the lease. It returns an error when a write failed
// and the state can no longer be trusted.
func (s *service) lead(ctx context.Context, lt lease.Term, sn *snapshotter) error {
	ack, err := s.pub.Publish(ctx, events.SubjectAdmissionTerm, fmt.Sprintf("term:%s:%d", s.cfg.Identity, lt.Revision), "", events.TypeAdmissionTerm,
		events.AdmissionTerm{Holder: s.cfg.Identity, LeaseRevision: lt.Revision, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("term marker: %w", err)
	}
	// Fold up to our own marker: from here on the state holds every earlier leader's writes,
	// and none of theirs can land any more.
	if err := s.waitFold(ctx, func(st *state.State) bool { return st.LastTermSeq >= ack.Sequence }); err != nil {
		return err
	}
	t := &term{seq: ack.Sequence, revision: lt.Revision}
	s.log.Info("admission leader", "revision", lt.Revision, "termSeq", t.seq)
	tick := time.NewTicker(250 * time.Millisecond) // CPU quota regeneration, fleet memory, starvation
	defer tick.Stop()
	for {
		s.mu.Lock()
		superseded := s.st.LastTermSeq > t.seq
		s.mu.Unlock()
		if superseded {
			return errors.New("a newer admission leader wrote its term marker")
		}
		if err := s.decide(ctx, t); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			s.log.Info("admission leadership ended", "cause", context.Cause(ctx))
			return nil
		case <-s.wake:
		case <-tick.C:
			s.reportStarvation()
			s.maybeSnapshot(ctx, s.js, sn)
		}
	}
}

type term struct {
	seq      uint64
	revision uint64
}

// waitFold waits until cond holds for the folded state.
func (s *service) waitFold(ctx context.Context, cond func(*state.State) bool) error {
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s.st)
		s.mu.Unlock()
		if ok {
			return nil
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-deadline.C:
			t.Stop()
			return errors.New("admission: the fold did not reach the term marker")
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// publish writes one decision fenced on the leader's term marker, retrying on errors that
// may hide a stored write (the msg-id makes the retry idempotent).
func (s *service) publish(ctx context.Context, t *term, subject, msgID, queryID, ceType string, payload any) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = s.pub.Publish(pctx, subject, msgID, queryID, ceType, payload,
			jetstream.WithExpectLastSequenceForSubject(t.seq, events.SubjectAdmissionTerm))
		cancel()
		if err == nil || isWrongLastSequence(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("publish %s for %s: %w", subject, queryID, err)
	}
	return nil
}

// decide ends canceled queries, starts queued queries while the policies and limits allow,
// then gives every new submission its verdict.
func (s *service) decide(ctx context.Context, t *term) error {
	now := time.Now()
	s.mu.Lock()
	s.st.Tree.Refresh(now, s.fleetMemory())
	canceled := s.st.Canceled()
	s.mu.Unlock()
	for _, e := range canceled {
		code := protocol.UserCanceled
		if e.CancelReason == "abandoned" {
			code = protocol.AbandonedQuery
		}
		if err := s.end(ctx, t, e, events.SubjectCanceled, protocol.NewError(code, "Query was canceled while queued")); err != nil {
			return err
		}
	}
	for ctx.Err() == nil {
		s.mu.Lock()
		q, ok := s.st.Tree.Next(now)
		var spec *events.QuerySpec
		var e *state.Entry
		var err error
		if ok {
			if e, ok = s.st.Entry(q.ID); ok {
				spec, err = e.Spec()
			} else {
				err = errors.New("no submission for a queued query")
			}
			ok = true
		}
		s.mu.Unlock()
		if !ok {
			break
		}
		if err != nil {
			// Its submission is gone from the log (retention): the query cannot run.
			if e == nil {
				e = &state.Entry{ID: q.ID}
			}
			if err := s.end(ctx, t, e, events.SubjectFailed, protocol.NewError(protocol.GenericInternalError, "Sluice lost the submitted query: %v", err)); err != nil {
				return err
			}
			continue
		}
		if err := s.admit(ctx, t, e, spec, q, q.Leaf()); err != nil {
			return err
		}
	}
	for ctx.Err() == nil {
		done, err := s.verdict(ctx, t, now)
		if err != nil || done {
			return err
		}
	}
	return nil
}

func (s *service) admit(ctx context.Context, t *term, e *state.Entry, spec *events.QuerySpec, q *groups.Query, leaf *groups.Group) error {
	pctx, span := events.StartProcessSpan(ctx, s.tracer, e.Trace, events.SubjectSubmitted, "admission", 0)
	defer span.End()
	err := s.publish(pctx, t, events.SubjectAdmitted, events.MsgIDAdmitted(q.ID), q.ID, events.TypeQueryAdmitted,
		events.QueryAdmitted{Query: *spec, Group: leaf.ID(), GroupID: leaf.Path(), GroupTemplate: leaf.Template(), LeaseRevision: t.revision,
			AdmittedAt: time.Now().UTC(), Priority: q.Priority, MemoryBytes: q.Memory})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.st.MarkStarted(q, leaf)
	s.mu.Unlock()
	return nil
}

// verdict decides for the oldest submission without one; done when there is none.
func (s *service) verdict(ctx context.Context, t *term, now time.Time) (done bool, err error) {
	s.mu.Lock()
	e, ok := s.st.NextPending()
	if !ok {
		s.mu.Unlock()
		return true, nil
	}
	spec, err := e.Spec()
	if err != nil {
		s.mu.Unlock()
		return false, s.end(ctx, t, e, events.SubjectRejected, protocol.NewError(protocol.GenericInternalError, "Sluice could not read the submitted query: %v", err))
	}
	priority, memory, err := state.Accounting(spec)
	if err != nil {
		s.mu.Unlock()
		return false, s.end(ctx, t, e, events.SubjectRejected, protocol.NewError(protocol.InvalidSessionProp, "%v", err))
	}
	sel, ok := s.rg.Select(s.selectionInput(spec))
	if !ok {
		s.mu.Unlock()
		return false, s.end(ctx, t, e, events.SubjectRejected, protocol.NewError(protocol.QueryRejected, "Query did not match any selection rule (user %q, source %q)", spec.User, spec.Source))
	}
	tree := s.st.Tree
	leaf := tree.Leaf(sel)
	v, full := tree.Decide(leaf)
	q := &groups.Query{ID: e.ID, Priority: priority, Memory: memory, QueuedAt: spec.SubmittedAt}
	var reason string
	if v == groups.VerdictQueue {
		reason = tree.WhyWait(leaf)
	}
	s.mu.Unlock()

	switch v {
	case groups.VerdictQueueFull:
		return false, s.end(ctx, t, e, events.SubjectRejected, protocol.NewError(protocol.QueryQueueFull, "Too many queued queries for %q", full.ID()))
	case groups.VerdictDisabled:
		return false, s.end(ctx, t, e, events.SubjectRejected, protocol.NewError(protocol.QueryRejected, "Resource group %q is disabled", leaf.ID()))
	case groups.VerdictStart:
		return false, s.admit(ctx, t, e, spec, q, leaf)
	}
	pctx, span := events.StartProcessSpan(ctx, s.tracer, e.Trace, events.SubjectSubmitted, "admission", 0)
	defer span.End()
	if err := s.publish(pctx, t, events.SubjectQueued, events.MsgIDQueued(e.ID), e.ID, events.TypeQueryQueued,
		events.QueryQueued{QueryID: e.ID, Group: leaf.ID(), GroupID: leaf.Path(), GroupTemplate: leaf.Template(), LeaseRevision: t.revision,
			QueuedAt: spec.SubmittedAt, Priority: priority, MemoryBytes: memory, Reason: reason}); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.st.MarkQueued(e, q, leaf)
	s.mu.Unlock()
	return false, nil
}

func (s *service) selectionInput(spec *events.QuerySpec) rgspec.Input {
	return rgspec.Input{
		User: spec.User, OriginalUser: spec.OriginalUser, AuthenticatedUser: spec.User, Source: spec.Source,
		ClientInfo: spec.ClientInfo, Schema: spec.Schema, UserGroups: s.userGroups.GroupsOf(spec.User),
		QueryType: sqltext.QueryType(spec.SQL), ClientTags: spec.ClientTags, ResourceEstimate: spec.ResourceEstimate,
	}
}

// end publishes a terminal event for a query admission holds (rejected or canceled).
func (s *service) end(ctx context.Context, t *term, e *state.Entry, subject string, qe *protocol.QueryError) error {
	ctx = events.ExtractTrace(ctx, e.Trace)
	ceType := events.TypeForSubject[subject]
	err := s.publish(ctx, t, subject, events.MsgIDTerminal(e.ID), e.ID, ceType,
		events.QueryEnded{QueryID: e.ID, EndedAt: time.Now().UTC(), By: "admission",
			Error: events.ErrorInfoOf(qe)})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.st.MarkEnded(e.ID, 0)
	s.mu.Unlock()
	return nil
}

// reportStarvation logs, at most every 30 s, how many queries waited longer than
// StarvationAge, with the oldest one and why it waits.
func (s *service) reportStarvation() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.st.Tree.Starving(now)
	if n == 0 || now.Sub(s.starveLog) < 30*time.Second {
		return
	}
	s.starveLog = now
	oldest, _ := s.st.Tree.Oldest()
	s.log.Warn("queries queued longer than the starvation age", "count", n, "age", s.cfg.StarvationAge,
		"oldest", oldest.ID, "waited", now.Sub(oldest.QueuedAt).Round(time.Second), "reason", s.st.Tree.Reason(oldest.ID, now))
}

// fleetMemory is the memory the clusters report, summed. Callers hold s.mu.
func (s *service) fleetMemory() int64 {
	var sum int64
	for _, m := range s.fleet {
		sum += m
	}
	return sum
}

// watchFleet follows cluster heartbeats for the fleet's memory: the memory of the ready
// clusters.
func (s *service) watchFleet(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		return err
	}
	return heartbeat.Watch(ctx, kv, func(cluster string, hb *events.ClusterHeartbeat) {
		s.mu.Lock()
		if hb != nil && hb.State == events.ClusterReady {
			s.fleet[cluster] = hb.MemoryBytes
		} else {
			delete(s.fleet, cluster)
		}
		s.mu.Unlock()
		s.poke()
	})
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}
