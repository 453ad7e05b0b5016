// Package placement picks the cluster for every admitted query with a plugin framework in
// the style of the Kubernetes scheduler: filters (healthy, not draining, routing group,
// engine capability, capacity, data locality, memory headroom) then weighted scores (least
// loaded, data locality, region affinity, memory headroom, weight). Every decision is
// explained in the placed event. When no cluster can take the query it stays in the global
// queue (its message is redelivered later); it never fails for that.
//
// Placement also keeps placed queries moving: a query whose dispatch failed before it started
// (sluice.query.dispatch-failed) is placed again on another cluster, at most
// SLUICE_DISPATCH_ATTEMPTS times in all; a query placed on a cluster that drains, is
// deactivated or goes silent before starting it is moved to another cluster, fenced by its
// claim (pkg/claims) so that it never also starts on the first; a query running on a cluster
// silent for longer than SLUICE_CLUSTER_LOST_AFTER fails with SLUICE_CLUSTER_LOST, unless no
// cluster heartbeats at all (then NATS, not the fleet, is down).
//
// Consumes: sluice.query.admitted (durable consumer "placement"); folds sluice.query.placed,
// .dispatch-failed, .started, the terminal events and cancel requests; watches SLUICE_CLUSTERS (heartbeats),
// SLUICE_CLUSTER_CONTROL (drain, deactivate) and the "clusters" key of SLUICE_CONFIG.
// Publishes: sluice.query.placed, sluice.query.canceled (canceled before placement),
// sluice.query.failed (cluster lost).
package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqltext"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/placement/internal/framework"
	"github.com/sluicehq/sluice/services/placement/internal/registry"
	"github.com/sluicehq/sluice/services/placement/internal/routing"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the placement service (environment variables SLUICE_*).
type Config struct {
	NatsURL          string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	HeartbeatTimeout time.Duration `envconfig:"HEARTBEAT_TIMEOUT" default:"3s" desc:"a cluster without a heartbeat for this long gets no new queries, and its queries that did not start move elsewhere"`
	LostAfter        time.Duration `envconfig:"CLUSTER_LOST_AFTER" default:"30s" desc:"queries running on a cluster silent for this long fail with SLUICE_CLUSTER_LOST"`
	AckWait          time.Duration `envconfig:"PLACEMENT_ACK_WAIT" default:"30s" desc:"redelivery timeout of an admitted query being placed"`
	ClustersFile     string        `envconfig:"CLUSTERS" desc:"clusters file (routing group, region, weight, max slots, tables per cluster); watched, and published to SLUICE_CONFIG for every replica"`
	ProfilesFile     string        `envconfig:"PLACEMENT_PROFILES" desc:"placement profiles file (filter and score plugins with weights); default: every plugin"`
	Profile          string        `envconfig:"PLACEMENT_PROFILE" desc:"the profile of PLACEMENT_PROFILES to use (default: its first)"`
	RoutingRules     string        `envconfig:"ROUTING_RULES" desc:"routing rules file (routing group by user, source, client tags, query type); the X-Trino-Routing-Group header wins"`
	ConfigPoll       time.Duration `envconfig:"CONFIG_POLL" default:"1s" desc:"how often the clusters file is checked for changes"`
	DispatchAttempts int           `envconfig:"DISPATCH_ATTEMPTS" default:"3" desc:"dispatches a query may fail before it starts (connection refused, 5xx), each on another cluster when one can take it, before it fails with SLUICE_DISPATCH_FAILED"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

type service struct {
	cfg     Config
	log     *slog.Logger
	reg     *registry.Registry
	fw      *framework.Framework
	routing *routing.Config
	claims  *claims.Store
	pub     *events.Publisher
	tracer  trace.Tracer

	mu       sync.Mutex
	canceled map[string]string
}

// Run places admitted queries until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	fw, err := loadFramework(cfg)
	if err != nil {
		return err
	}
	var rules *routing.Config
	if cfg.RoutingRules != "" {
		if rules, err = routing.Load(cfg.RoutingRules); err != nil {
			return err
		}
	}
	conn, log, err := svc.Start(ctx, svc.Options{Name: "placement", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	cl, err := claims.Open(ctx, conn.JS)
	if err != nil {
		return err
	}
	tracer := otel.Tracer("sluice/placement")
	s := &service{cfg: cfg, log: log, reg: registry.New(cfg.HeartbeatTimeout), fw: fw, routing: rules, claims: cl, tracer: tracer,
		canceled: map[string]string{}, pub: events.NewPublisher(conn.JS, "sluice/placement", tracer)}
	if err := s.watchFleet(ctx, conn.JS); err != nil {
		return err
	}
	subjects := append([]string{events.SubjectPlaced, events.SubjectDispatchFailed, events.SubjectStarted, events.SubjectCancelRequested}, events.TerminalSubjects...)
	f, err := follow.Start(ctx, conn.JS, events.StreamQueries, subjects, s.fold)
	if err != nil {
		return err
	}
	defer f.Stop()
	select {
	case <-f.CaughtUp():
	case <-ctx.Done():
		return nil
	}
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.PlacementConsumer(cfg.AckWait))
	if err != nil {
		return fmt.Errorf("placement: consumer: %w", err)
	}
	cc, err := cons.Consume(s.handle, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("placement: consume: %w", err)
	}
	go s.keepMoving(ctx)
	log.Info("placement ready", "profile", fw.Profile())
	<-ctx.Done()
	cc.Stop()
	return nil
}

// loadFramework builds the placement framework of the configured profile.
func loadFramework(cfg Config) (*framework.Framework, error) {
	if cfg.ProfilesFile == "" {
		p := framework.DefaultProfile()
		timeout := framework.Duration(cfg.HeartbeatTimeout)
		if err := p.SetArgs(framework.NameHealthy, framework.HealthyArgs{HeartbeatTimeout: &timeout}); err != nil {
			return nil, err
		}
		return framework.New(p, nil)
	}
	data, err := readFile(cfg.ProfilesFile)
	if err != nil {
		return nil, err
	}
	pc, err := framework.ParseConfig(data, nil)
	if err != nil {
		return nil, fmt.Errorf("placement profiles %s: %w", cfg.ProfilesFile, err)
	}
	return pc.Framework(cfg.Profile)
}

func (s *service) fold(msg jetstream.Msg) {
	if msg.Subject() == events.SubjectCancelRequested {
		var p events.QueryCancelRequested
		if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryCancelRequested, &p); err == nil {
			s.mu.Lock()
			s.canceled[p.QueryID] = p.Reason
			s.mu.Unlock()
		}
		return
	}
	if events.IsTerminal(msg.Subject()) {
		s.mu.Lock()
		delete(s.canceled, msg.Headers().Get("ce-subject"))
		s.mu.Unlock()
	}
	if err := s.reg.Apply(msg.Subject(), msg.Headers(), msg.Data()); err != nil {
		s.log.Warn("skipping malformed event", "subject", msg.Subject(), "err", err)
	}
}

// handle places one admitted query, or asks for redelivery when no cluster can take it.
func (s *service) handle(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := events.StartProcessSpan(ctx, s.tracer, msg.Headers(), msg.Subject(), events.ConsumerPlacement, len(msg.Data()))
	defer span.End()
	var p events.QueryAdmitted
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryAdmitted, &p); err != nil {
		s.log.Warn("dropping malformed admitted event", "err", err)
		_ = msg.Term()
		return
	}
	id := p.Query.ID
	span.SetAttributes(events.AttrQueryID.String(id))
	if s.reg.Ended(id) {
		_ = msg.Ack()
		return
	}
	s.mu.Lock()
	_, canceled := s.canceled[id]
	s.mu.Unlock()
	if canceled {
		qe := protocol.NewError(protocol.UserCanceled, "Query was canceled before it was placed")
		if err := s.publishEnd(ctx, events.SubjectCanceled, id, qe); err != nil {
			_ = msg.NakWithDelay(100 * time.Millisecond)
			return
		}
		_ = msg.Ack()
		return
	}
	if _, ok := s.reg.Placement(id); ok {
		// Redelivered after a crash between publish and ack: the placement stands.
		_ = msg.Ack()
		return
	}
	d := s.decide(&p.Query, p.MemoryBytes, nil)
	if d.Chosen == "" {
		md, _ := msg.Metadata()
		delay := 50 * time.Millisecond
		if md != nil {
			delay = min(time.Duration(md.NumDelivered)*50*time.Millisecond, time.Second)
			if md.NumDelivered == 1 || md.NumDelivered%100 == 0 {
				s.log.Info("no cluster can take the query yet", "query", id, "why", d.String())
			}
		}
		_ = msg.NakWithDelay(delay)
		return
	}
	// The claim decides: after a crash between claim and publish, the claim stands.
	c, err := s.claims.Place(ctx, id, d.Chosen)
	if err != nil {
		s.log.Warn("claim failed", "query", id, "err", err)
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	reason := d.String()
	if c.Cluster != d.Chosen || c.Attempt != 0 {
		reason = fmt.Sprintf("claimed earlier: %s attempt %d", c.Cluster, c.Attempt)
	}
	if err := s.publishPlaced(ctx, p.Query, c.Cluster, c.Attempt, p.MemoryBytes, reason); err != nil {
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	_ = msg.Ack()
}

// decide runs the framework for a query; exclude names clusters that must not be chosen
// (the one a query moves away from, those where its dispatch failed).
func (s *service) decide(q *events.QuerySpec, memory int64, exclude map[string]bool) framework.Decision {
	kind := framework.KindSQL
	if q.IsPlan() {
		kind = framework.KindPlan
	}
	fq := &framework.Query{ID: q.ID, Kind: kind, User: q.User, Source: q.Source, MemoryBytes: memory}
	fq.RoutingGroup = s.routing.Select(routing.Input{HeaderGroup: q.RoutingGroup, User: q.User, Source: q.Source,
		ClientTags: q.ClientTags, QueryType: sqltext.QueryType(q.SQL)}).Group
	fq.Tables = tablesOf(q)
	clusters := s.reg.Clusters()
	if len(exclude) > 0 {
		kept := clusters[:0]
		for _, c := range clusters {
			if !exclude[c.Name] {
				kept = append(kept, c)
			}
		}
		clusters = kept
	}
	d := s.fw.Place(fq, clusters, time.Now())
	if d.Chosen == "" && len(fq.Tables) > 0 && !anyServes(clusters, fq.Tables) {
		// No cluster lists every table the query reads (a typo, or a table no cluster
		// declares): locality cannot be honoured, so it is placed without it and the
		// engine answers, e.g. TABLE_NOT_FOUND, instead of the query waiting forever.
		fq.Tables = nil
		d = s.fw.Place(fq, clusters, time.Now())
	}
	return d
}

// anyServes reports whether some cluster, whatever its state, can serve every table:
// it lists them all, or it lists none (it serves anything).
func anyServes(clusters []*framework.Cluster, tables []string) bool {
	for _, c := range clusters {
		if len(c.Tables) == 0 {
			return true
		}
		all := true
		for _, t := range tables {
			if !c.Tables.Has(t) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (s *service) publishPlaced(ctx context.Context, q events.QuerySpec, cluster string, attempt int, memory int64, reason string) error {
	at := time.Now().UTC()
	if _, err := s.pub.Publish(ctx, events.SubjectPlaced, events.MsgIDPlaced(q.ID, attempt), q.ID, events.TypeQueryPlaced,
		events.QueryPlaced{Query: q, Cluster: cluster, Attempt: attempt, PlacedAt: at, MemoryBytes: memory, Reason: reason}); err != nil {
		s.log.Warn("publish placed failed", "query", q.ID, "err", err)
		return err
	}
	s.reg.MarkPlaced(q, cluster, attempt, at, memory)
	return nil
}

func (s *service) publishEnd(ctx context.Context, subject, id string, qe *protocol.QueryError) error {
	_, err := s.pub.Publish(ctx, subject, events.MsgIDTerminal(id), id, events.TypeForSubject[subject],
		events.QueryEnded{QueryID: id, EndedAt: time.Now().UTC(), By: "placement",
			Error: events.ErrorInfoOf(qe)})
	if err == nil {
		s.reg.MarkEnded(id)
	}
	return err
}

// keepMoving moves stranded placements and fails queries of lost clusters, whenever the
// fleet changes and at least every 250 ms.
func (s *service) keepMoving(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.reg.Changed():
		}
		now := time.Now()
		for _, pl := range s.reg.Redispatch() {
			if err := s.redispatch(ctx, pl); err != nil && ctx.Err() == nil {
				s.log.Warn("cannot place a query again after its dispatch failed, yet", "query", pl.Query.ID, "err", err)
			}
		}
		for _, pl := range s.reg.Stranded(now, 0) {
			if err := s.move(ctx, pl); err != nil && ctx.Err() == nil {
				s.log.Warn("cannot move a stranded query yet", "query", pl.Query.ID, "from", pl.Cluster, "err", err)
			}
		}
		if s.cfg.LostAfter > 0 {
			for _, pl := range s.reg.Lost(now, s.cfg.LostAfter) {
				if err := s.lose(ctx, pl); err != nil && ctx.Err() == nil {
					s.log.Warn("cannot fail a query of a lost cluster yet", "query", pl.Query.ID, "cluster", pl.Cluster, "err", err)
				}
			}
		}
	}
}

// errNowhere: no other cluster can take a stranded query now; it waits where it is.
var errNowhere = errors.New("no other cluster can take it now")

// move gives a placed query that has not started to another cluster, fenced by its claim.
func (s *service) move(ctx context.Context, pl registry.Placement) error {
	c, ok, err := s.claimToMove(ctx, pl, events.ClaimPlaced)
	if !ok {
		return err
	}
	d := s.decide(&pl.Query, pl.MemoryBytes, map[string]bool{pl.Cluster: true})
	if d.Chosen == "" {
		return errNowhere
	}
	s.log.Info("moving a query off a cluster that cannot start it", "query", pl.Query.ID, "from", pl.Cluster, "to", d.Chosen)
	return s.moveClaim(ctx, pl, c, d.Chosen, fmt.Sprintf("moved from %s (it cannot start it now): %s", pl.Cluster, d.String()))
}

// redispatch places again a query whose dispatch failed before it started: on a cluster
// where no dispatch of it failed yet when one can take it, else on any that can (a failed
// cluster may have recovered). After DispatchAttempts failures it fails with
// SLUICE_DISPATCH_FAILED, naming every failure.
func (s *service) redispatch(ctx context.Context, pl registry.Placement) error {
	c, ok, err := s.claimToMove(ctx, pl, events.ClaimDispatchFailed)
	if !ok {
		return err
	}
	if len(pl.Failures) >= max(s.cfg.DispatchAttempts, 1) {
		parts := make([]string, len(pl.Failures))
		for i, f := range pl.Failures {
			parts[i] = fmt.Sprintf("attempt %d on %s: %s", f.Attempt+1, f.Cluster, f.Message)
		}
		qe := protocol.NewError(protocol.SluiceDispatchFailed, "Query could not be handed to a cluster (%d attempts): %s", len(pl.Failures), strings.Join(parts, "; "))
		s.log.Warn("query failed: every dispatch failed", "query", pl.Query.ID, "attempts", len(pl.Failures))
		return s.publishEnd(ctx, events.SubjectFailed, pl.Query.ID, qe)
	}
	failed := map[string]bool{}
	for _, f := range pl.Failures {
		failed[f.Cluster] = true
	}
	d := s.decide(&pl.Query, pl.MemoryBytes, failed)
	if d.Chosen == "" {
		d = s.decide(&pl.Query, pl.MemoryBytes, nil)
	}
	if d.Chosen == "" {
		return nil // waits, like an admitted query, until a cluster can take it
	}
	last := pl.Failures[len(pl.Failures)-1]
	s.log.Info("placing a query again after a failed dispatch", "query", pl.Query.ID, "failed_on", last.Cluster, "to", d.Chosen)
	return s.moveClaim(ctx, pl, c, d.Chosen, fmt.Sprintf("dispatch to %s failed (%s); placed again: %s", last.Cluster, last.Message, d.String()))
}

// claimToMove reads the claim of a placement that did not start and reports whether it may
// move now: the claim still names the placement's attempt, in state want. A claim that a
// replica moved further but crashed before publishing is published now instead.
func (s *service) claimToMove(ctx context.Context, pl registry.Placement, want events.ClaimState) (claims.Claim, bool, error) {
	c, ok, err := s.claims.Get(ctx, pl.Query.ID)
	if err != nil || !ok {
		return c, false, err
	}
	switch {
	case c.Attempt > pl.Attempt && c.State == events.ClaimPlaced:
		return c, false, s.publishPlaced(ctx, pl.Query, c.Cluster, c.Attempt, pl.MemoryBytes, "placed again (claim recovered)")
	case c.Attempt != pl.Attempt || c.State != want:
		return c, false, nil // started or moved meanwhile: the events will tell
	}
	return c, true, nil
}

// moveClaim moves the claim c to cluster with the next attempt and publishes the placement.
// A claim that changed meanwhile (the query started, or another replica moved it) is left
// alone.
func (s *service) moveClaim(ctx context.Context, pl registry.Placement, c claims.Claim, cluster, reason string) error {
	moved, err := s.claims.Move(ctx, pl.Query.ID, c, cluster)
	if errors.Is(err, claims.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.publishPlaced(ctx, pl.Query, moved.Cluster, moved.Attempt, pl.MemoryBytes, reason)
}

// lose fails a query that was running on a cluster that went silent.
func (s *service) lose(ctx context.Context, pl registry.Placement) error {
	id := pl.Query.ID
	c, ok, err := s.claims.Get(ctx, id)
	if err != nil || !ok {
		return err
	}
	if c.Cluster == pl.Cluster && c.Attempt == pl.Attempt && c.State == events.ClaimStarted {
		if _, err := s.claims.Lose(ctx, id, c); err != nil && !errors.Is(err, claims.ErrConflict) {
			return err
		}
	} else if c.State != events.ClaimLost {
		return nil
	}
	qe := protocol.NewError(protocol.SluiceClusterLost, "Cluster %s stopped responding while the query ran (no heartbeat for %s)", pl.Cluster, s.cfg.LostAfter)
	s.log.Warn("query failed: its cluster was lost", "query", id, "cluster", pl.Cluster)
	return s.publishEnd(ctx, events.SubjectFailed, id, qe)
}
