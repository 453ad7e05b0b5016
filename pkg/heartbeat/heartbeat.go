// Package heartbeat follows the executor-proxies' heartbeats in the clusters bucket, for the
// services that need the fleet's current shape (placement's registry, admission's fleet
// memory).
package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// Watch calls fn for every heartbeat in kv and every later change until ctx ends: with the
// heartbeat, or with nil when the cluster's entry was deleted, expired or is unreadable.
// fn runs on one goroutine, in the bucket's order.
func Watch(ctx context.Context, kv jetstream.KeyValue, fn func(cluster string, hb *events.ClusterHeartbeat)) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat: watch %s: %w", kv.Bucket(), err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // end of the initial values
					continue
				}
				var hb events.ClusterHeartbeat
				if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &hb) == nil && hb.Name != "" {
					fn(e.Key(), &hb)
				} else {
					fn(e.Key(), nil)
				}
			}
		}
	}()
	return nil
}
