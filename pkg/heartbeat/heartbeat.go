// Package heartbeat follows the fleet's shape in KV: the executor-proxies' heartbeats in
// the clusters bucket (placement's registry, admission's fleet memory), and what operators
// asked of each cluster in the cluster-control bucket (placement, the executor-proxies).
package heartbeat

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/configkv"
)

// Watch calls fn for every heartbeat in kv and every later change until ctx ends: with the
// heartbeat, or with nil when the cluster's entry was deleted, expired or is unreadable.
// fn runs on one goroutine, in the bucket's order.
func Watch(ctx context.Context, kv jetstream.KeyValue, fn func(cluster string, hb *events.ClusterHeartbeat)) error {
	return watch(ctx, kv, jetstream.AllKeys, func(hb *events.ClusterHeartbeat) bool { return hb.Name != "" }, fn)
}

// WatchControl calls fn for every cluster-control entry of kv matching key (a cluster name,
// or jetstream.AllKeys) and every later change until ctx ends: with the operator's wish, or
// with nil when the entry was deleted (the cluster was resumed). fn runs on one goroutine.
func WatchControl(ctx context.Context, kv jetstream.KeyValue, key string, fn func(cluster string, c *events.ClusterControl)) error {
	return watch(ctx, kv, key, func(c *events.ClusterControl) bool { return c.Wish != "" }, fn)
}

func watch[T any](ctx context.Context, kv jetstream.KeyValue, key string, valid func(*T) bool, fn func(string, *T)) error {
	return configkv.Follow(ctx, kv, key, false, func(key string, value []byte, _ uint64) {
		var v T
		if value != nil && json.Unmarshal(value, &v) == nil && valid(&v) {
			fn(key, &v)
		} else {
			fn(key, nil)
		}
	})
}
