// Package ingest is Sluice's front door: it speaks the Trino/Presto client protocol,
// accepts queries (SQL text, or Substrait plans on POST /v1/plan and the gRPC plan service)
// into the durable global queue (the QUERIES stream), answers queued polls from the query
// status view and hands clients over to the executing cluster by nextUri.
//
// Consumes: every sluice.query.* event (durable consumer "status-view", folded into the
// SLUICE_QUERY_STATUS bucket); watches the scheduler's load (SLUICE_SCHEDULER). Publishes:
// sluice.query.submitted, sluice.query.cancel-requested; stores large plans in SLUICE_PLANS.
package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/sealed"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/ingest/internal/api"
	"github.com/sluicehq/sluice/services/ingest/internal/clusters"
	"github.com/sluicehq/sluice/services/ingest/internal/explain"
	"github.com/sluicehq/sluice/services/ingest/internal/schedload"
	"github.com/sluicehq/sluice/services/ingest/internal/slug"
	"github.com/sluicehq/sluice/services/ingest/internal/statusview"
	"go.opentelemetry.io/otel"
)

// Config of the ingest service (environment variables SLUICE_*).
type Config struct {
	HTTPAddr       string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"listen address of the client protocol endpoint"`
	PublicURL      string        `envconfig:"PUBLIC_URL" desc:"external base URL put into nextUri/infoUri (default: from the request's Host)"`
	NatsURL        string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	MaxQueryBytes  int           `envconfig:"MAX_QUERY_BYTES" default:"1000000" desc:"largest accepted SQL text"`
	ClientTimeout  time.Duration `envconfig:"CLIENT_TIMEOUT" default:"5m" desc:"a queued query whose client stopped polling for this long is canceled (ABANDONED_QUERY)"`
	VerdictWait    time.Duration `envconfig:"VERDICT_WAIT" default:"1s" desc:"how long a POST waits for admission's verdict, so that QUERY_QUEUE_FULL and unmatched selectors fail the POST itself (0: answer QUEUED at once)"`
	AdminToken     string        `envconfig:"ADMIN_TOKEN" desc:"bearer token required by the admin API (/v1/clusters); empty: no token (bind to loopback)"`
	StaleAfter     time.Duration `envconfig:"HEARTBEAT_TIMEOUT" default:"3s" desc:"a cluster whose heartbeat is older than this is shown unhealthy"`
	CredentialsKey string        `envconfig:"CREDENTIALS_KEY" desc:"32 bytes in base64 (openssl rand -base64 32): seal each client's Authorization header into its query for executor-proxies that forward credentials to a coordinator (the same key on both); empty: not forwarded"`
	GRPCAddr       string        `envconfig:"GRPC_ADDR" desc:"listen address of the gRPC plan service (sluice.plan.v1.PlanScheduler: ScheduleQuery, QueryJobStatus, QueryExecutionDone); empty: disabled"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Listener, when set, is used instead of listening on HTTPAddr.
	Listener net.Listener `ignored:"true"`
	// GRPCListener, when set, serves the gRPC plan service instead of listening on GRPCAddr.
	GRPCListener net.Listener `ignored:"true"`
	// Ready, when set, is called with the listening address once queries are accepted.
	Ready func(addr string) `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

// Version is reported by /v1/info.
const Version = "sluice-0.1.0"

// Run serves until ctx ends, then shuts down in order: stop accepting HTTP requests, finish
// in-flight ones, stop consuming.
func Run(ctx context.Context, cfg Config) error {
	conn, log, err := svc.Start(ctx, svc.Options{Name: "ingest", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	secret, err := slugSecret(ctx, conn.JS)
	if err != nil {
		return err
	}
	statusKV, err := conn.JS.KeyValue(ctx, events.BucketQueryStatus)
	if err != nil {
		return err
	}
	tracer := otel.Tracer("sluice/ingest")
	proj, err := statusview.StartProjector(ctx, conn.JS, statusKV, tracer, log)
	if err != nil {
		return err
	}
	defer proj.Stop()
	cache, err := statusview.StartCache(ctx, statusKV)
	if err != nil {
		return err
	}
	select {
	case <-cache.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	var credentials *sealed.Key
	if cfg.CredentialsKey != "" {
		if credentials, err = sealed.ParseKey(cfg.CredentialsKey); err != nil {
			return fmt.Errorf("ingest: SLUICE_CREDENTIALS_KEY: %w", err)
		}
	}
	admin, err := clusters.Open(ctx, conn.JS, cfg.StaleAfter)
	if err != nil {
		return err
	}
	plans, err := conn.JS.ObjectStore(ctx, events.ObjectPlans)
	if err != nil {
		return fmt.Errorf("ingest: plan store: %w", err)
	}
	load, err := schedload.Start(ctx, conn.JS, log)
	if err != nil {
		return fmt.Errorf("ingest: scheduler load: %w", err)
	}
	handler := api.New(api.Options{PublicURL: cfg.PublicURL, MaxQueryBytes: cfg.MaxQueryBytes, Version: Version, ClientTimeout: cfg.ClientTimeout,
		VerdictWait: cfg.VerdictWait, Explain: explain.New(conn.NC, 250*time.Millisecond, 500*time.Millisecond),
		Clusters: admin, AdminToken: cfg.AdminToken, Credentials: credentials, Plans: plans, SchedulerLoad: load},
		events.NewPublisher(conn.JS, "sluice/ingest", tracer), cache, slug.NewMinter(secret), tracer, log)
	stopGRPC, err := serveGRPC(cfg, handler, log)
	if err != nil {
		return err
	}
	defer stopGRPC()

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("ingest: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go reap(ctx, handler, cfg.ClientTimeout, log)
	log.Info("ingest ready", "addr", ln.Addr().String())
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("ingest: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// slugSecret returns the HMAC secret shared by every ingest replica, creating it once.
func slugSecret(ctx context.Context, js jetstream.JetStream) ([]byte, error) {
	kv, err := js.KeyValue(ctx, events.BucketConfig)
	if err != nil {
		return nil, err
	}
	for {
		e, err := kv.Get(ctx, events.KeySlugSecret)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("ingest: slug secret: %w", err)
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if _, err := kv.Create(ctx, events.KeySlugSecret, b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("ingest: slug secret: %w", err)
		}
	}
}

// reap runs the abandonment check periodically.
func reap(ctx context.Context, h *api.Server, timeout time.Duration, log *slog.Logger) {
	if timeout <= 0 {
		return
	}
	t := time.NewTicker(min(10*time.Second, max(timeout/4, 50*time.Millisecond)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, id := range h.Reap(ctx, now) {
				log.Info("abandoned queued query: its client stopped polling", "query", id, "timeout", timeout)
			}
		}
	}
}
