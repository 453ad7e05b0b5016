// Package scheduler is Sluice's fragment-scheduling service. It turns every placed query into
// fragments for the chosen cluster's executors.
//
// A SQL query is one fragment (the whole statement), published at once: placement already
// bounded the cluster's load. A Substrait plan query is cut into a fragment DAG
// (pkg/fragment); its ready fragments wait in the cluster's work queue (priority with
// decay, internal/workqueue) and are released to the cluster only while its prefetch
// window (slots × prefetch) has room, so the queue, not the stream, decides the order.
// The plan state machine (internal/plans) is a fold of the log: placed plans, fragment
// outcomes, cancels and terminal events, replayed at start.
//
// Consumes: sluice.query.placed (durable consumer "scheduler", for SQL; an ordered replay
// for plans), sluice.fragment-status.>, sluice.query.cancel-requested, terminal events,
// the heartbeats bucket. Publishes: sluice.fragment.<cluster> (FRAGMENTS stream); failed
// or canceled terminal events of plan queries; the SLUICE_SCHEDULER load.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/scheduler/internal/workqueue"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the fragment-scheduling service (environment variables SLUICE_*).
type Config struct {
	NatsURL string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	AckWait time.Duration `envconfig:"SCHEDULER_ACK_WAIT" default:"30s" desc:"redelivery timeout of a placed query being dispatched"`

	// Plan scheduling.
	Prefetch           int             `envconfig:"PREFETCH" default:"1" desc:"plan fragments released ahead per executor slot (the window is SLOTS x PREFETCH; bounds priority inversion)"`
	FragmentAttempts   int             `envconfig:"FRAGMENT_ATTEMPTS" default:"3" desc:"releases of one fragment (retries of retriable failures) before its query fails"`
	QueryTimeout       time.Duration   `envconfig:"PLAN_QUERY_TIMEOUT" default:"1h" desc:"a plan query still running this long after placement fails with EXCEEDED_TIME_LIMIT (0: none)"`
	FragmentPlanInline string          `envconfig:"FRAGMENT_PLAN_INLINE" default:"256kB" desc:"a fragment whose plan is larger reaches its executor through the SLUICE_PLANS object store instead of inside its batch"`
	MemorySoftLimit    string          `envconfig:"MEMORY_SOFT_LIMIT" default:"2GB" desc:"ingest refuses new plans with QUERY_QUEUE_FULL while the scheduler process's Go heap is at least this (e.g. 512MB; 0: no limit)"`
	MaxQueuedFragments int             `envconfig:"MAX_QUEUED_FRAGMENTS" default:"100000" desc:"ingest refuses new plans with QUERY_QUEUE_FULL while this many fragments are queued (0: no limit)"`
	PartitionTables    []string        `envconfig:"PARTITION_TABLES" default:"lineitem,orders" desc:"tables whose scans split into partition fragments (one per executor slot, and one per PARTITION_ROWS rows, up to MAX_PARTITIONS)"`
	MaxPartitions      int             `envconfig:"MAX_PARTITIONS" default:"8" desc:"most partitions of one table scan"`
	PartitionRows      int             `envconfig:"PARTITION_ROWS" default:"250000" desc:"a partitioned scan gets at least one partition per this many rows (its fragments are the points where short queries overtake long ones; -1: one per slot only)"`
	ScaleFactor        float64         `envconfig:"TPCH_SCALE" default:"0.01" desc:"TPC-H scale of the base tables, for the fragment cost model"`
	Policy             string          `envconfig:"QUEUE_POLICY" default:"decay" desc:"fragment order: decay (levels of attained service, priority, remaining cost, aging), fifo or fair (baselines)"`
	Levels             []time.Duration `envconfig:"QUEUE_LEVELS" default:"0s,1s,10s,60s,300s" desc:"attained executor time thresholds of the priority levels (decay)"`
	LevelMultiplier    float64         `envconfig:"QUEUE_LEVEL_MULTIPLIER" default:"2" desc:"executor time share of a level relative to the next"`
	AgingStep          time.Duration   `envconfig:"QUEUE_AGING_STEP" default:"1s" desc:"the wait one unit of declared priority is worth"`
	CostWeight         time.Duration   `envconfig:"QUEUE_COST_WEIGHT" default:"100ms" desc:"handicap per doubling of a query's remaining cost estimate"`
	Steal              string          `envconfig:"STEAL_FRAGMENTS" default:"off" desc:"clusters with free slots take ready fragments queued on others: off, leaves (table scans only) or all but roots (only when the clusters read each other's intermediate results: a shared disk or SLUICE_INTERMEDIATE_OBJECTS); a fragment waits QUEUE_LOCALITY_WAIT for its own region first"`
	LocalityWait       time.Duration   `envconfig:"QUEUE_LOCALITY_WAIT" default:"50ms" desc:"how long a fragment waits for an executor of its region"`
	Tick               time.Duration   `envconfig:"SCHEDULER_TICK" default:"20ms" desc:"period of timeout and locality checks"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

// withDefaults fills the plan-scheduling fields a caller left zero (a Config built in code
// rather than loaded from the environment).
func (c Config) withDefaults() Config {
	if c.Prefetch <= 0 {
		c.Prefetch = 1
	}
	if c.FragmentAttempts <= 0 {
		c.FragmentAttempts = 3
	}
	if c.PartitionTables == nil {
		c.PartitionTables = []string{"lineitem", "orders"}
	}
	if c.MaxPartitions <= 0 {
		c.MaxPartitions = 8
	}
	if c.PartitionRows == 0 {
		c.PartitionRows = 250_000
	}
	if c.ScaleFactor <= 0 {
		c.ScaleFactor = 0.01
	}
	if c.Tick <= 0 {
		c.Tick = 20 * time.Millisecond
	}
	if c.MemorySoftLimit == "" {
		c.MemorySoftLimit = "2GB"
	}
	if c.FragmentPlanInline == "" {
		c.FragmentPlanInline = "256kB"
	}
	return c
}

func (c Config) queueConfig() workqueue.Config {
	return workqueue.Config{Policy: workqueue.Policy(c.Policy), Levels: c.Levels, LevelMultiplier: c.LevelMultiplier, AgingStep: c.AgingStep, CostWeight: c.CostWeight, LocalityWait: c.LocalityWait}
}

// RootFragment is the ID of the single fragment of a SQL query.
const RootFragment = "0"

type service struct {
	log    *slog.Logger
	pub    *events.Publisher
	tracer trace.Tracer
}

// Run dispatches fragments until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	conn, log, err := svc.Start(ctx, svc.Options{Name: "scheduler", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	tracer := otel.Tracer("sluice/scheduler")
	s := &service{log: log, tracer: tracer, pub: events.NewPublisher(conn.JS, "sluice/scheduler", tracer)}
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.SchedulerConsumer(cfg.AckWait))
	if err != nil {
		return fmt.Errorf("scheduler: consumer: %w", err)
	}
	cc, err := cons.Consume(s.handle, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("scheduler: consume: %w", err)
	}
	loop, err := newPlanLoop(ctx, cfg, log, conn.JS, s.pub, tracer)
	if err != nil {
		cc.Stop()
		return err
	}
	log.Info("scheduler ready")
	err = loop.run(ctx)
	cc.Stop()
	return err
}

// handle publishes the fragment of one placed query, then acknowledges it. A crash in
// between redelivers the placement; the fragment's deterministic ID drops the duplicate.
func (s *service) handle(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := events.StartProcessSpan(ctx, s.tracer, msg.Headers(), msg.Subject(), events.ConsumerScheduler, len(msg.Data()))
	defer span.End()
	var p events.QueryPlaced
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryPlaced, &p); err != nil {
		s.log.Warn("dropping malformed placed event", "err", err)
		_ = msg.Term()
		return
	}
	if err := events.ValidateClusterName(p.Cluster); err != nil {
		s.log.Warn("dropping placed event with bad cluster", "err", err)
		_ = msg.Term()
		return
	}
	id := p.Query.ID
	span.SetAttributes(events.AttrQueryID.String(id))
	if p.Query.IsPlan() {
		_ = msg.Ack() // the plan loop follows placed plans through its replay of the log
		return
	}
	frag := events.Fragment{Query: p.Query, FragmentID: RootFragment, Cluster: p.Cluster, Attempt: p.Attempt, SQL: p.Query.SQL}
	if _, err := s.pub.Publish(ctx, events.FragmentSubject(p.Cluster), events.MsgIDFragment(id, RootFragment, p.Attempt), id, events.TypeFragment, frag); err != nil {
		s.log.Warn("publish fragment failed", "query", id, "err", err)
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	_ = msg.Ack()
}
