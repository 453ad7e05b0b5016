package placement

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/configkv"
	"github.com/sluicehq/sluice/pkg/sqltext"
	"github.com/sluicehq/sluice/services/placement/internal/clusterconfig"
)

// watchFleet follows heartbeats, operators' wishes and the clusters file in force (the
// "clusters" key of SLUICE_CONFIG, which a replica started with SLUICE_CLUSTERS keeps
// up to date from the file).
func (s *service) watchFleet(ctx context.Context, js jetstream.JetStream) error {
	hb, err := js.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		return err
	}
	if err := s.reg.WatchHeartbeats(ctx, hb); err != nil {
		return err
	}
	ctl, err := js.KeyValue(ctx, events.BucketClusterControl)
	if err != nil {
		return err
	}
	if err := s.reg.WatchControl(ctx, ctl); err != nil {
		return err
	}
	cfgKV, err := js.KeyValue(ctx, events.BucketConfig)
	if err != nil {
		return err
	}
	if s.cfg.ClustersFile != "" {
		// A replica that cannot read its own file does not start.
		f := &configkv.File{Path: s.cfg.ClustersFile, Key: events.KeyClusters,
			Validate: func(b []byte) error { _, err := clusterconfig.Parse(b); return err }}
		if err := f.Sync(ctx, cfgKV); err != nil {
			return fmt.Errorf("placement: %w", err)
		}
		go configkv.Poll(ctx, cfgKV, s.cfg.ConfigPoll, s.log, f)
	}
	return configkv.Watch(ctx, cfgKV, events.KeyClusters, false, func(data []byte, revision uint64) {
		if data == nil {
			s.reg.SetStatic(&clusterconfig.Config{Clusters: map[string]clusterconfig.Cluster{}})
			return
		}
		cfg, err := clusterconfig.Parse(data)
		if err != nil {
			s.log.Error("clusters file in SLUICE_CONFIG is invalid; the last good one stays in force", "err", err)
			return
		}
		s.reg.SetStatic(cfg)
		s.log.Info("clusters file in force", "clusters", len(cfg.Clusters), "revision", revision)
	})
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("placement: %w", err)
	}
	return data, nil
}

// tablesOf returns the tables a query reads, qualified by its session's catalog and schema.
func tablesOf(q *events.QuerySpec) []string { return sqltext.Tables(q.SQL, q.Catalog, q.Schema) }
