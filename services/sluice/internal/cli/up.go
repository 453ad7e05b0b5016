package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/services/admission"
	"github.com/sluicehq/sluice/services/executorproxy"
	"github.com/sluicehq/sluice/services/ingest"
	"github.com/sluicehq/sluice/services/placement"
	"github.com/sluicehq/sluice/services/scheduler"
	"github.com/spf13/cobra"
)

// UpConfig configures `sluice up` (environment variables SLUICE_*).
type UpConfig struct {
	DataDir        string        `envconfig:"DATA_DIR" default:".sluice" desc:"data directory: JetStream store, TPC-H Parquet files"`
	HTTPAddr       string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"listen address of the client protocol endpoint"`
	GRPCAddr       string        `envconfig:"GRPC_ADDR" desc:"listen address of ingest's gRPC plan service (e.g. 127.0.0.1:8081); empty: disabled"`
	NatsListen     string        `envconfig:"NATS_LISTEN" default:"127.0.0.1:4222" desc:"listen address of the embedded NATS server (port 0: any free port; empty: in-process only)"`
	MaxRunning     int           `envconfig:"MAX_RUNNING" default:"8" desc:"fleet-wide limit of running queries (without a resource-group file)"`
	ResourceGroups string        `envconfig:"RESOURCE_GROUPS" desc:"resource-group file (Trino/Presto JSON), applied live when it changes"`
	UserGroups     string        `envconfig:"USER_GROUPS" desc:"user-to-group mapping for userGroup selectors (lines group:user1,user2)"`
	StarvationAge  time.Duration `envconfig:"STARVATION_AGE" default:"5m" desc:"queries queued longer are reported and start before any policy choice once their groups have room"`
	Clusters       int           `envconfig:"LOCAL_CLUSTERS" default:"2" desc:"number of local DuckDB clusters (local-1, local-2, ...)"`
	Slots          int           `envconfig:"SLOTS" default:"4" desc:"query slots of each local cluster"`
	TPCHScale      float64       `envconfig:"TPCH_SCALE" default:"0" desc:"extra TPC-H scale to generate besides tiny (1 adds schema sf1)"`
	ClusterAddr    string        `envconfig:"CLUSTER_ADDR" default:"127.0.0.1:0" desc:"listen address of each local cluster (port 0: any free port; a fixed port N gives N, N+1, ...)"`
	AckWait        time.Duration `envconfig:"FRAGMENT_ACK_WAIT" default:"10s" desc:"a fragment held by a dead executor is redelivered after this long"`
	ClientTimeout  time.Duration `envconfig:"CLIENT_TIMEOUT" default:"5m" desc:"queries whose client stopped polling for this long are canceled (ABANDONED_QUERY)"`
	Coordinators   string        `envconfig:"COORDINATORS" desc:"clusters backed by real coordinators, besides the local ones: name=trino:URL or name=presto:URL, comma separated (e.g. prod-1=trino:http://10.0.0.5:8080)"`
	Credentials    string        `envconfig:"COORDINATOR_CREDENTIALS" default:"forward" desc:"how queries authenticate to the coordinators: forward (the client's own credentials) or impersonate (as COORDINATOR_USER)"`
	CoordUser      string        `envconfig:"COORDINATOR_USER" default:"sluice" desc:"Sluice's user on the coordinators"`
	CoordPassword  string        `envconfig:"COORDINATOR_PASSWORD" desc:"password of COORDINATOR_USER"`
	CredentialsKey string        `envconfig:"CREDENTIALS_KEY" desc:"32 bytes in base64: seals client Authorization headers so that they can be forwarded to the coordinators"`
	Dispatches     int           `envconfig:"DISPATCH_ATTEMPTS" default:"3" desc:"failed dispatches (cluster down, 5xx) a query may have, each placed again elsewhere, before it fails"`
	LostAfter      time.Duration `envconfig:"CLUSTER_LOST_AFTER" default:"30s" desc:"queries running on a cluster silent for this long fail with SLUICE_CLUSTER_LOST"`
	Progress       time.Duration `envconfig:"PROGRESS_INTERVAL" default:"5s" desc:"how often at most a running query's memory on a coordinator is reported to admission (0: never)"`
	DuckDBThreads  int           `envconfig:"DUCKDB_THREADS" default:"0" desc:"DuckDB worker threads of each local cluster (0: DuckDB's default, one per core; 1: each running query or fragment has only its own thread)"`

	// Plan scheduling (see services/scheduler).
	QueuePolicy          string          `envconfig:"QUEUE_POLICY" default:"decay" desc:"order of each cluster's ready plan fragments: decay (levels of attained service, priority, remaining cost, aging), fifo or fair (baselines)"`
	QueueLevels          []time.Duration `envconfig:"QUEUE_LEVELS" default:"0s,1s,10s,60s,300s" desc:"attained executor time thresholds of the plan queue's levels (decay)"`
	QueueLevelMultiplier float64         `envconfig:"QUEUE_LEVEL_MULTIPLIER" default:"2" desc:"executor time share of a plan queue level relative to the next (decay)"`
	QueueCostWeight      time.Duration   `envconfig:"QUEUE_COST_WEIGHT" default:"100ms" desc:"plan queue handicap per doubling of a query's remaining cost estimate (decay)"`

	// OnCluster, when set, is called with each local cluster's name and base URL once it
	// takes work (benchmarks compare against a cluster's own endpoint).
	OnCluster func(name, url string) `ignored:"true"`
}

func upCommand() *cobra.Command {
	cfg := &UpConfig{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run all of Sluice in one process: embedded NATS, the five services and local DuckDB clusters",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := config.Load(cfg); err != nil {
			return err
		}
		applyFlags(c)
		log := logger(c.ErrOrStderr())
		return withTelemetry(c.Context(), "sluice", func() error {
			return Up(c.Context(), *cfg, func(url string) { fmt.Fprintln(c.OutOrStdout(), "sluice ready", url) }, log)
		})
	}
	deferFlag(cmd, "data-dir", "data directory (SLUICE_DATA_DIR)", &cfg.DataDir)
	deferFlag(cmd, "http-addr", "client endpoint listen address (SLUICE_HTTP_ADDR)", &cfg.HTTPAddr)
	deferFlag(cmd, "grpc-addr", "gRPC plan service listen address, empty: off (SLUICE_GRPC_ADDR)", &cfg.GRPCAddr)
	deferFlag(cmd, "nats-listen", "embedded NATS listen address (SLUICE_NATS_LISTEN)", &cfg.NatsListen)
	deferIntFlag(cmd, "max-running", "fleet-wide limit of running queries without a resource-group file (SLUICE_MAX_RUNNING)", &cfg.MaxRunning)
	deferFlag(cmd, "resource-groups", "resource-group file, Trino/Presto JSON (SLUICE_RESOURCE_GROUPS)", &cfg.ResourceGroups)
	deferFlag(cmd, "user-groups", "user-group mapping file (SLUICE_USER_GROUPS)", &cfg.UserGroups)
	deferIntFlag(cmd, "clusters", "number of local DuckDB clusters (SLUICE_LOCAL_CLUSTERS)", &cfg.Clusters)
	deferIntFlag(cmd, "slots", "slots per local cluster (SLUICE_SLOTS)", &cfg.Slots)
	deferFloatFlag(cmd, "tpch-scale", "extra TPC-H scale (SLUICE_TPCH_SCALE)", &cfg.TPCHScale)
	addHelpEnv(cmd, cfg)
	return cmd
}

// Up runs everything until ctx ends. ready is called with the client URL once queries are
// accepted and every local cluster takes work.
func Up(ctx context.Context, cfg UpConfig, ready func(url string), log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	opts := natsutil.ServerOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Name: "sluice-embedded"}
	if cfg.NatsListen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(cfg.NatsListen)
		if err != nil {
			return fmt.Errorf("SLUICE_NATS_LISTEN: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("SLUICE_NATS_LISTEN: %w", err)
		}
		if p == 0 {
			p = -1
		}
		opts.Host, opts.Port = host, p
	}
	ns, err := natsutil.StartServer(opts)
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !opts.DontListen {
		log.Info("embedded NATS listening", "url", ns.ClientURL())
	}
	if err := executorproxy.EnsureTPCH(ctx, cfg.DataDir, cfg.TPCHScale, log); err != nil {
		return err
	}
	// Create the topology once before the services start, so they never race on it.
	conn, err := natsutil.Connect(ctx, "", ns, "sluice-up")
	if err != nil {
		return err
	}
	topo := events.DefaultTopology()
	if err := topo.Ensure(ctx, conn.JS); err != nil {
		conn.Close()
		return err
	}
	conn.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel(err)
			}
		}()
	}
	coords, err := parseCoordinators(cfg.Coordinators)
	if err != nil {
		return err
	}
	pending := sync.WaitGroup{}
	pending.Add(1 + cfg.Clusters + len(coords))
	var ingestURL string
	clusterHost, clusterPort, err := net.SplitHostPort(cfg.ClusterAddr)
	if err != nil {
		return fmt.Errorf("SLUICE_CLUSTER_ADDR: %w", err)
	}
	basePort, _ := strconv.Atoi(clusterPort)
	// startCluster runs one executor-proxy with the settings every cluster shares; backend
	// sets the rest.
	startCluster := func(name, addr string, backend func(*executorproxy.Config)) {
		xc := executorproxy.Config{
			Cluster: name, HTTPAddr: addr, Slots: cfg.Slots, Prefetch: 1, AckWait: cfg.AckWait,
			ClientTimeout: cfg.ClientTimeout, HeartbeatInterval: 500 * time.Millisecond,
			Server: ns, Logger: log, Topology: &topo,
			Ready: func(url string) {
				if cfg.OnCluster != nil {
					cfg.OnCluster(name, url)
				}
				pending.Done()
			},
		}
		backend(&xc)
		start(name, func(ctx context.Context) error { return executorproxy.Run(ctx, xc) })
	}
	for i := 1; i <= cfg.Clusters; i++ {
		port := 0
		if basePort != 0 {
			port = basePort + i - 1
		}
		startCluster(fmt.Sprintf("local-%d", i), net.JoinHostPort(clusterHost, strconv.Itoa(port)), func(xc *executorproxy.Config) {
			xc.DataDir, xc.TPCHScale, xc.ResultBufferBytes, xc.Threads = cfg.DataDir, cfg.TPCHScale, 16<<20, cfg.DuckDBThreads
		})
	}
	for _, cc := range coords {
		startCluster(cc.name, net.JoinHostPort(clusterHost, "0"), func(xc *executorproxy.Config) {
			xc.Backend, xc.CoordinatorURL = cc.kind, cc.url
			xc.Credentials, xc.CoordinatorUser, xc.CoordinatorPassword, xc.CredentialsKey = cfg.Credentials, cfg.CoordUser, cfg.CoordPassword, cfg.CredentialsKey
			xc.CoordinatorPoll, xc.CoordinatorLostAfter, xc.DispatchTimeout, xc.ProgressInterval = 500*time.Millisecond, cfg.LostAfter, 10*time.Second, cfg.Progress
		})
	}
	start("admission", func(ctx context.Context) error {
		return admission.Run(ctx, admission.Config{MaxRunning: cfg.MaxRunning, ResourceGroupsFile: cfg.ResourceGroups, UserGroupsFile: cfg.UserGroups,
			StarvationAge: cfg.StarvationAge, ConfigPoll: time.Second, LeaseRenew: 250 * time.Millisecond, Server: ns, Logger: log, Topology: &topo})
	})
	start("placement", func(ctx context.Context) error {
		return placement.Run(ctx, placement.Config{HeartbeatTimeout: 3 * time.Second, AckWait: 30 * time.Second, DispatchAttempts: cfg.Dispatches,
			LostAfter: cfg.LostAfter, Server: ns, Logger: log, Topology: &topo})
	})
	start("scheduler", func(ctx context.Context) error {
		// The local clusters share the data directory, so each reads the others'
		// intermediate results: any fragment but a root may run on an idle cluster.
		return scheduler.Run(ctx, scheduler.Config{AckWait: 30 * time.Second, Policy: cfg.QueuePolicy, Levels: cfg.QueueLevels, LevelMultiplier: cfg.QueueLevelMultiplier, CostWeight: cfg.QueueCostWeight,
			Steal: "all", Server: ns, Logger: log, Topology: &topo})
	})
	start("ingest", func(ctx context.Context) error {
		return ingest.Run(ctx, ingest.Config{HTTPAddr: cfg.HTTPAddr, GRPCAddr: cfg.GRPCAddr, MaxQueryBytes: 1 << 20, ClientTimeout: cfg.ClientTimeout, VerdictWait: time.Second,
			CredentialsKey: cfg.CredentialsKey,
			Server:         ns, Logger: log, Topology: &topo,
			Ready: func(addr string) { ingestURL = "http://" + addr; pending.Done() }})
	})
	readyc := make(chan struct{})
	go func() { pending.Wait(); close(readyc) }()
	select {
	case <-readyc:
		ready(ingestURL)
	case <-ctx.Done():
	}
	<-ctx.Done()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// coordinatorCluster is one entry of SLUICE_COORDINATORS.
type coordinatorCluster struct{ name, kind, url string }

// parseCoordinators reads "name=trino:URL,name=presto:URL".
func parseCoordinators(s string) ([]coordinatorCluster, error) {
	var out []coordinatorCluster
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(item, "=")
		kind, url, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || (kind != "trino" && kind != "presto") || url == "" {
			return nil, fmt.Errorf("SLUICE_COORDINATORS: %q is not name=trino:URL or name=presto:URL", item)
		}
		if err := events.ValidateClusterName(name); err != nil {
			return nil, fmt.Errorf("SLUICE_COORDINATORS: %w", err)
		}
		if seen[name] || strings.HasPrefix(name, "local-") {
			return nil, fmt.Errorf("SLUICE_COORDINATORS: cluster name %q is taken (local-N names the local clusters)", name)
		}
		seen[name] = true
		out = append(out, coordinatorCluster{name: name, kind: kind, url: url})
	}
	return out, nil
}
