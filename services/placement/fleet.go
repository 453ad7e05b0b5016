package placement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
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
		data, err := readClustersFile(s.cfg.ClustersFile)
		if err != nil {
			return err
		}
		if err := publishClusters(ctx, cfgKV, data); err != nil {
			return err
		}
		go s.pollClustersFile(ctx, cfgKV, data)
	}
	w, err := cfgKV.Watch(ctx, events.KeyClusters)
	if err != nil {
		return fmt.Errorf("placement: watch %s: %w", events.KeyClusters, err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				s.reg.SetStatic(&clusterconfig.Config{Clusters: map[string]clusterconfig.Cluster{}})
				continue
			}
			cfg, err := clusterconfig.Parse(e.Value())
			if err != nil {
				s.log.Error("clusters file in SLUICE_CONFIG is invalid; the last good one stays in force", "err", err)
				continue
			}
			s.reg.SetStatic(cfg)
			s.log.Info("clusters file in force", "clusters", len(cfg.Clusters), "revision", e.Revision())
		}
	}()
	return nil
}

// readClustersFile reads and validates a clusters file.
func readClustersFile(path string) ([]byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := clusterconfig.Parse(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

func publishClusters(ctx context.Context, kv jetstream.KeyValue, data []byte) error {
	if cur, err := kv.Get(ctx, events.KeyClusters); err == nil && bytes.Equal(cur.Value(), data) {
		return nil
	} else if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	_, err := kv.Put(ctx, events.KeyClusters, data)
	return err
}

// pollClustersFile publishes every valid change of the clusters file; an invalid one is
// logged and the last good one stays in force.
func (s *service) pollClustersFile(ctx context.Context, kv jetstream.KeyValue, last []byte) {
	t := time.NewTicker(s.cfg.ConfigPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := readFile(s.cfg.ClustersFile)
		if err != nil || bytes.Equal(data, last) {
			continue
		}
		last = data
		if _, err := clusterconfig.Parse(data); err != nil {
			s.log.Error("clusters file is invalid; the last good one stays in force", "file", s.cfg.ClustersFile, "err", err)
			continue
		}
		if err := publishClusters(ctx, kv, data); err != nil {
			s.log.Warn("cannot publish the clusters file", "err", err)
		}
	}
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
