// Package executorproxy runs one cluster (or executor pool) for Sluice. It pulls the
// cluster's fragments from the FRAGMENTS stream with a bounded prefetch window, runs them
// in a fixed number of slots, reports lifecycle events and heartbeats its capacity.
//
// With the duckdb backend the cluster is an in-process DuckDB over Parquet catalogs: the
// proxy serves result pages to clients over the executing URLs of the client protocol, and
// also accepts POST /v1/statement directly, like a standalone coordinator. With the trino
// and presto backends the proxy hands each query to a real coordinator (as the user, with
// every session header), hands the client the coordinator's nextUri, and follows the query
// on the coordinator's REST API until it ends (remote.go).
//
// Consumes: sluice.fragment.<cluster> (durable consumer "executor-<cluster>"),
// sluice.query.cancel-requested. Publishes: sluice.query.started, .finished, .failed,
// .canceled, .dispatch-failed; heartbeats into the SLUICE_CLUSTERS bucket.
package executorproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/sealed"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/pkg/tpchgen"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/sluicehq/sluice/services/executorproxy/internal/results"
	"go.opentelemetry.io/otel"
)

// Config of one executor-proxy (environment variables SLUICE_*).
type Config struct {
	Cluster             string        `envconfig:"CLUSTER" default:"local-1" desc:"cluster name (subject token: letters, digits, - and _)"`
	HTTPAddr            string        `envconfig:"EXECUTOR_HTTP_ADDR" default:"127.0.0.1:8081" desc:"listen address of the cluster's own protocol endpoint (executing URLs, direct POST)"`
	PublicURL           string        `envconfig:"EXECUTOR_PUBLIC_URL" desc:"external base URL of this cluster (default http://<listen address>)"`
	NatsURL             string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	Slots               int           `envconfig:"SLOTS" default:"4" desc:"queries this cluster runs at once"`
	Prefetch            int           `envconfig:"PREFETCH" default:"1" desc:"fragments pulled ahead per slot (the prefetch window is SLOTS x PREFETCH)"`
	AckWait             time.Duration `envconfig:"FRAGMENT_ACK_WAIT" default:"10s" desc:"a fragment held by a dead executor is redelivered after this long"`
	Threads             int           `envconfig:"DUCKDB_THREADS" default:"0" desc:"DuckDB worker threads (0: DuckDB's default)"`
	DataDir             string        `envconfig:"DATA_DIR" default:".sluice" desc:"data directory; TPC-H Parquet files live in <dir>/tpch/<schema>"`
	TPCHScale           float64       `envconfig:"TPCH_SCALE" default:"0" desc:"extra TPC-H scale to generate and expose besides tiny (e.g. 1 for schema sf1)"`
	ResultBufferBytes   int           `envconfig:"RESULT_BUFFER_BYTES" default:"16777216" desc:"unread result bytes buffered per query before the query waits for its client"`
	ClientTimeout       time.Duration `envconfig:"CLIENT_TIMEOUT" default:"5m" desc:"results no client fetched for this long are dropped (ABANDONED_QUERY)"`
	HeartbeatInterval   time.Duration `envconfig:"HEARTBEAT_INTERVAL" default:"500ms" desc:"heartbeat period"`
	Region              string        `envconfig:"REGION" desc:"region of this cluster, reported for placement's region affinity (the clusters file overrides it)"`
	RoutingGroup        string        `envconfig:"ROUTING_GROUP" desc:"routing group of this cluster (the clusters file overrides it)"`
	IntermediateDir     string        `envconfig:"INTERMEDIATE_DIR" desc:"where plan fragments write their intermediate results (default <DATA_DIR>/intermediate; executors sharing it read each other's results from disk)"`
	IntermediateDisk    string        `envconfig:"INTERMEDIATE_DISK" default:"10GB" desc:"disk reserved for intermediate results on this executor (e.g. 500MB, 10GB; 0: no limit); a fragment that finds it used up fails retriably, and its query fails once the retries are spent"`
	IntermediateObjects bool          `envconfig:"INTERMEDIATE_OBJECTS" default:"false" desc:"also copy intermediate results to the JetStream object store, for executors that do not share a disk"`
	Tables              []string      `envconfig:"TABLES" desc:"tables this cluster can serve, catalog.schema.table, comma separated, for data locality (default with duckdb: every attached table; the clusters file overrides it)"`

	Backend              string        `envconfig:"BACKEND" default:"duckdb" desc:"what runs this cluster's queries: duckdb (in-process DuckDB over Parquet), trino or presto (the coordinator at COORDINATOR_URL)"`
	CoordinatorURL       string        `envconfig:"COORDINATOR_URL" desc:"base URL of the Trino or Presto coordinator (BACKEND=trino|presto)"`
	Credentials          string        `envconfig:"COORDINATOR_CREDENTIALS" default:"forward" desc:"forward: queries carry the client's own credentials (its Authorization header needs CREDENTIALS_KEY); impersonate: Sluice authenticates as COORDINATOR_USER and runs each query as its user"`
	CoordinatorUser      string        `envconfig:"COORDINATOR_USER" default:"sluice" desc:"Sluice's own user on the coordinator (status, cancel, load; impersonation)"`
	CoordinatorPassword  string        `envconfig:"COORDINATOR_PASSWORD" desc:"password of COORDINATOR_USER (Basic auth; empty: none)"`
	CoordinatorPoll      time.Duration `envconfig:"COORDINATOR_POLL" default:"500ms" desc:"longest interval between reads of a running query's status on the coordinator"`
	CoordinatorLostAfter time.Duration `envconfig:"COORDINATOR_LOST_AFTER" default:"30s" desc:"a running query whose coordinator does not answer for this long fails with SLUICE_CLUSTER_LOST"`
	ProgressInterval     time.Duration `envconfig:"PROGRESS_INTERVAL" default:"5s" desc:"a running query's memory reservation on the coordinator is reported to admission (soft memory limits) at most this often, when it changed notably (0: never)"`
	DispatchTimeout      time.Duration `envconfig:"DISPATCH_TIMEOUT" default:"10s" desc:"a dispatch the coordinator does not answer within this long failed (the query is placed again)"`
	SlugSecret           string        `envconfig:"PRESTO_SLUG_SECRET" desc:"key (16+ bytes) of the slugs of Presto dispatches; the same on every replica of this cluster lets a repeated dispatch be answered (default: random per process)"`
	CredentialsKey       string        `envconfig:"CREDENTIALS_KEY" desc:"the key ingest seals Authorization headers with (forwarded to the coordinator)"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Listener, when set, is used instead of listening on HTTPAddr.
	Listener net.Listener `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
	// Ready, when set, is called with the cluster's base URL once it takes work.
	Ready func(baseURL string) `ignored:"true"`
}

// TPCHCatalogs returns the TPC-H catalog served from dataDir: schema tiny always, plus the
// schema of scale when scale > 0 and it is not tiny.
func TPCHCatalogs(dataDir string, scale float64) (engine.Catalog, map[string]float64) {
	scales := map[string]float64{tpchgen.SchemaName(0.01): 0.01}
	if scale > 0 {
		scales[tpchgen.SchemaName(scale)] = scale
	}
	c := engine.Catalog{Name: "tpch", Schemas: map[string]string{}}
	for name := range scales {
		c.Schemas[name] = filepath.Join(dataDir, "tpch", name)
	}
	return c, scales
}

// EnsureTPCH generates the TPC-H Parquet files under dataDir that are missing.
func EnsureTPCH(ctx context.Context, dataDir string, scale float64, log *slog.Logger) error {
	cat, scales := TPCHCatalogs(dataDir, scale)
	var missing bool
	for name := range scales {
		if !tpchgen.Exists(cat.Schemas[name]) {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	db, err := engine.Open(ctx, 0, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	for name, sc := range scales {
		dir := cat.Schemas[name]
		if tpchgen.Exists(dir) {
			continue
		}
		start := time.Now()
		if err := tpchgen.Generate(ctx, db.DB(), dir, sc); err != nil {
			return fmt.Errorf("generate tpch.%s: %w", name, err)
		}
		log.Info("generated TPC-H data", "schema", "tpch."+name, "dir", dir, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Run serves the cluster until ctx ends. On shutdown it stops pulling fragments, reports
// itself draining, lets running queries finish for a short grace period, then stops.
func Run(ctx context.Context, cfg Config) error {
	if err := events.ValidateClusterName(cfg.Cluster); err != nil {
		return err
	}
	if cfg.Slots <= 0 || cfg.Prefetch <= 0 {
		return fmt.Errorf("executor-proxy: SLOTS and PREFETCH must be > 0 (got %d, %d)", cfg.Slots, cfg.Prefetch)
	}
	conn, log, err := svc.Start(ctx, svc.Options{Name: "executor-proxy", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	log = log.With("cluster", cfg.Cluster)
	tracer := otel.Tracer("sluice/executorproxy")
	x := &executor{cfg: cfg, log: log, js: conn.JS, slots: make(chan struct{}, cfg.Slots), store: results.NewStore(),
		canceled: map[string]string{}, remote: map[string]*remoteQuery{}, beatNow: make(chan struct{}, 1), cpu: newCPUMeter(),
		tracer: tracer, pub: events.NewPublisher(conn.JS, "sluice/executor-proxy/"+cfg.Cluster, tracer)}
	switch cfg.Backend {
	case "duckdb", "":
		if err := EnsureTPCH(ctx, cfg.DataDir, cfg.TPCHScale, log); err != nil {
			return err
		}
		cat, _ := TPCHCatalogs(cfg.DataDir, cfg.TPCHScale)
		if x.db, err = engine.Open(ctx, cfg.Threads, []engine.Catalog{cat}); err != nil {
			return err
		}
		defer x.db.Close()
		if x.plans, err = newPlanExecutor(ctx, x); err != nil {
			return err
		}
		if len(x.cfg.Tables) == 0 {
			x.cfg.Tables = x.db.Tables()
		}
		if x.memory, err = x.db.MemoryLimit(ctx); err != nil {
			log.Warn("cannot read DuckDB's memory limit; percentage memory limits will not count this cluster", "err", err)
		}
	case "trino", "presto":
		if x.coord, err = newCoordinator(cfg); err != nil {
			return err
		}
		x.health = &coordinatorHealth{}
		if cfg.CredentialsKey != "" {
			if x.credentials, err = sealed.ParseKey(cfg.CredentialsKey); err != nil {
				return fmt.Errorf("executor-proxy: SLUICE_CREDENTIALS_KEY: %w", err)
			}
		}
	default:
		return fmt.Errorf("executor-proxy: SLUICE_BACKEND=%q: want duckdb, trino or presto", cfg.Backend)
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("executor-proxy: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	statusKV, err := conn.JS.KeyValue(ctx, events.BucketQueryStatus)
	if err != nil {
		return err
	}
	claimStore, err := claims.Open(ctx, conn.JS)
	if err != nil {
		return err
	}
	x.status, x.claims, x.base = statusKV, claimStore, base
	srv := &http.Server{Handler: x.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if err := x.watchCancels(ctx); err != nil {
		return err
	}
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); x.heartbeat(hbCtx) }()
	defer func() { stopHB(); <-hbDone }()
	go x.janitor(ctx)
	if x.coord != nil {
		go x.watchCoordinator(ctx)
	}

	if err := x.startPulling(ctx); err != nil {
		return err
	}
	if err := x.watchControl(ctx); err != nil {
		return err
	}
	log.Info("executor-proxy ready", "url", base, "slots", cfg.Slots, "backend", x.engineName())
	if cfg.Ready != nil {
		cfg.Ready(base)
	}
	select {
	case err := <-errc:
		x.stopPulling()
		return fmt.Errorf("executor-proxy: serve: %w", err)
	case <-ctx.Done():
	}
	// Ordered drain: stop pulling, report draining, give running queries a grace period.
	x.mu.Lock()
	x.stopping = true // before stopping: a resume now does not pull again
	x.mu.Unlock()
	x.stopPulling()
	x.beat()
	x.drain(3 * time.Second)
	return nil
}
