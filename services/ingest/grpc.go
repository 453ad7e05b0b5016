package ingest

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/sluicehq/sluice/services/ingest/internal/planrpc"
	"google.golang.org/grpc"
)

// grpcDrain is how long a stopping gRPC server lets calls in flight finish; long
// QueryExecutionDone waits are cut after it.
const grpcDrain = 2 * time.Second

// serveGRPC starts the gRPC plan service on cfg.GRPCListener or cfg.GRPCAddr (neither:
// disabled) and returns the function that stops it.
func serveGRPC(cfg Config, intake planrpc.Intake, log *slog.Logger) (stop func(), err error) {
	ln := cfg.GRPCListener
	if ln == nil {
		if cfg.GRPCAddr == "" {
			return func() {}, nil
		}
		if ln, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("ingest: listen %s (SLUICE_GRPC_ADDR): %w", cfg.GRPCAddr, err)
		}
	}
	// A request carries a plan of up to substraitplan.MaxPlanSize and a few fields.
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(substraitplan.MaxPlanSize + 64<<10))
	planrpc.Register(srv, intake)
	go func() {
		if err := srv.Serve(ln); err != nil {
			log.Error("gRPC plan service stopped", "err", err)
		}
	}()
	log.Info("gRPC plan service ready", "addr", ln.Addr().String())
	return func() {
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(grpcDrain):
			srv.Stop()
		}
	}, nil
}
