package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream, bucket and consumer names.
const (
	// StreamQueries is the durable global queue and the query lifecycle log.
	StreamQueries = "QUERIES"
	// StreamFragments carries fragments to executor-proxies, one subject per cluster.
	StreamFragments = "FRAGMENTS"
	// StreamPlanFragments carries the released fragments of plan queries to
	// executor-proxies, one subject per cluster. It is soft state in memory: the scheduler
	// derives it again from the log (see FragmentStatusStream).
	StreamPlanFragments = "PLAN_FRAGMENTS"
	// StreamFragmentStatus holds the outcomes of plan fragments, which the scheduler folds
	// with the query lifecycle. It is soft state in memory: a lost outcome only reruns its
	// fragment.
	StreamFragmentStatus = "FRAGMENT_STATUS"

	// BucketQueryStatus is the KV view of each query's latest state (key = query ID).
	BucketQueryStatus = "SLUICE_QUERY_STATUS"
	// BucketClusters holds executor-proxy heartbeats (key = cluster name); entries expire
	// when heartbeats stop.
	BucketClusters = "SLUICE_CLUSTERS"
	// BucketLeases holds leader leases (key = role, e.g. "admission").
	BucketLeases = "SLUICE_LEASES"
	// BucketConfig holds shared configuration such as the slug secret.
	BucketConfig = "SLUICE_CONFIG"
	// BucketPlacements holds the placement claim of every placed query (key = query ID):
	// the cluster and attempt that may start it. Queries move between clusters only by
	// compare-and-set on their claim (see pkg/claims).
	BucketPlacements = "SLUICE_PLACEMENTS"
	// BucketClusterControl holds what operators asked of each cluster (key = cluster name):
	// drain or deactivate. No key means active.
	BucketClusterControl = "SLUICE_CLUSTER_CONTROL"
	// ObjectSnapshots is the object store of state snapshots: a cache of a service's fold
	// of the log at one sequence, so that a new replica replays only the log after it.
	ObjectSnapshots = "SLUICE_SNAPSHOTS"
	// BucketScheduler holds the fragment scheduler's load (key SchedulerLoadKey), which
	// ingest reads to refuse plans while the scheduler's queues are full.
	BucketScheduler = "SLUICE_SCHEDULER"
	// SchedulerLoadKey is the BucketScheduler key of the SchedulerLoad value.
	SchedulerLoadKey = "load"
	// ObjectPlans holds Substrait plans larger than InlinePlanLimit, named by query ID.
	ObjectPlans = "SLUICE_PLANS"
	// ObjectResults holds the intermediate results of plan fragments when executors do
	// not share a disk, named <query>/<fragment>.parquet; deleted when the query ends.
	ObjectResults = "SLUICE_RESULTS"
	// SnapshotAdmission is the ObjectSnapshots object holding admission's fold.
	SnapshotAdmission = "admission"

	// ConsumerPlacement is placement's durable consumer of admitted queries.
	ConsumerPlacement = "placement"
	// ConsumerScheduler is fragment-scheduling's durable consumer of placed queries.
	ConsumerScheduler = "scheduler"
	// ConsumerStatusView is ingest's durable consumer that maintains BucketQueryStatus.
	ConsumerStatusView = "status-view"

	// KeyResourceGroups is the BucketConfig key of the resource-group configuration in force
	// (the Trino/Presto JSON file format).
	KeyResourceGroups = "resource-groups"
	// KeyUserGroups is the BucketConfig key of the user-to-group mapping used by userGroup
	// selectors (Trino's file group provider format).
	KeyUserGroups = "user-groups"

	// KeyClusters is the BucketConfig key of the clusters file in force (static cluster
	// attributes: routing group, region, weight, max slots, tables).
	KeyClusters = "clusters"

	// KeySlugSecret is the BucketConfig key of the HMAC secret that signs client URLs.
	KeySlugSecret = "slug-secret"
)

// ExecutorConsumer is the durable consumer name of one cluster's executor-proxy.
func ExecutorConsumer(cluster string) string { return "executor-" + cluster }

// PlanExecutorConsumer names the durable consumer of one cluster's plan fragments.
func PlanExecutorConsumer(cluster string) string { return "executor-plans-" + cluster }

// Topology tunes the stream and bucket definitions. The zero value is not valid; use
// DefaultTopology.
type Topology struct {
	// Replicas is the replication factor of every stream and bucket (1 embedded, 3 in a cluster).
	Replicas int
	// QueryRetention bounds how long lifecycle events are kept.
	QueryRetention time.Duration
	// DuplicateWindow is how long a Nats-Msg-Id is remembered. It must exceed any retry
	// horizon of a publisher.
	DuplicateWindow time.Duration
	// HeartbeatTTL: a cluster entry without a heartbeat for this long disappears.
	HeartbeatTTL time.Duration
	// LeaseTTL: a leader that stops renewing loses its lease after this long.
	LeaseTTL time.Duration
	// StatusRetention bounds how long a finished query's status is kept.
	StatusRetention time.Duration
	// SoftStateLimit bounds each in-memory stream of plan fragment state, in bytes
	// (0: 128 MiB).
	SoftStateLimit int64
}

// DefaultTopology is the single-node embedded topology.
func DefaultTopology() Topology {
	return Topology{
		Replicas:        1,
		QueryRetention:  7 * 24 * time.Hour,
		DuplicateWindow: time.Hour,
		HeartbeatTTL:    3 * time.Second,
		LeaseTTL:        1500 * time.Millisecond,
		StatusRetention: 24 * time.Hour,
	}
}

// QueriesStream defines the QUERIES stream: file storage, limits retention (the log is the
// truth and is replayed), deduplicated by Nats-Msg-Id.
func (t Topology) QueriesStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamQueries,
		Description: "Sluice global queue and query lifecycle log",
		Subjects:    []string{SubjectQueryAll, SubjectAdmissionTerm},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		MaxAge:      t.QueryRetention,
		Duplicates:  t.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// FragmentsStream defines the FRAGMENTS stream: a work queue, a fragment is removed once
// the executor that ran it acknowledged it.
func (t Topology) FragmentsStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamFragments,
		Description: "Sluice fragments, one subject per cluster",
		Subjects:    []string{SubjectFragmentAll},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		Duplicates:  t.DuplicateWindow,
	}
}

// PlanFragmentsStream defines the PLAN_FRAGMENTS stream: a work queue in memory, a
// fragment is removed once the executor that ran it acknowledged it.
//
// Plan fragments and their outcomes are not the durable record of a query: the placed and
// terminal events in QUERIES are. Keeping them in memory takes two synced writes per
// fragment off the dispatch path (a synced write costs ~0.25 ms here, ~1 ms in R3). If
// they are lost (every NATS server of the stream restarted), the scheduler, rebuilding
// from QUERIES, releases the fragments of unfinished plans again and they rerun.
func (t Topology) PlanFragmentsStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamPlanFragments,
		Description: "Sluice plan fragments released to executors, one subject per cluster (soft state)",
		Subjects:    []string{SubjectPlanFragmentAll},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.MemoryStorage,
		Replicas:    t.Replicas,
		Duplicates:  t.DuplicateWindow,
		MaxBytes:    t.SoftStateBytes(),
		Discard:     jetstream.DiscardNew,
	}
}

// FragmentStatusStream defines the FRAGMENT_STATUS stream: the outcomes of plan fragments
// in memory, kept for the status retention and at most SoftStateBytes (the oldest go
// first; an outcome dropped before its query ended only reruns that fragment after a
// scheduler restart).
func (t Topology) FragmentStatusStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamFragmentStatus,
		Description: "Sluice plan fragment outcomes (soft state, folded by the scheduler)",
		Subjects:    []string{SubjectFragmentStatusAll},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.MemoryStorage,
		Replicas:    t.Replicas,
		MaxAge:      t.StatusRetention,
		Duplicates:  t.DuplicateWindow,
		MaxBytes:    t.SoftStateBytes(),
		Discard:     jetstream.DiscardOld,
	}
}

// SoftStateBytes bounds each in-memory stream of plan fragment state.
func (t Topology) SoftStateBytes() int64 {
	if t.SoftStateLimit > 0 {
		return t.SoftStateLimit
	}
	return 128 << 20
}

// Streams defines every stream, in the order Ensure applies them (QUERIES first: older
// versions kept the fragment outcomes there, and a subject can be in one stream only).
func (t Topology) Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{t.QueriesStream(), t.FragmentsStream(), t.PlanFragmentsStream(), t.FragmentStatusStream()}
}

// Buckets defines every KV bucket.
func (t Topology) Buckets() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: BucketQueryStatus, Description: "latest state of each query (derived view)", History: 1, TTL: t.StatusRetention, Storage: jetstream.FileStorage, Replicas: t.Replicas},
		// Heartbeats are ephemeral (they expire in seconds and are rewritten every interval):
		// memory storage keeps their writes off the disk that the query log syncs to.
		{Bucket: BucketClusters, Description: "executor-proxy heartbeats", History: 1, TTL: t.HeartbeatTTL, LimitMarkerTTL: time.Second, Storage: jetstream.MemoryStorage, Replicas: t.Replicas},
		{Bucket: BucketLeases, Description: "leader leases; the revision fences the leader's writes", History: 1, TTL: t.LeaseTTL, LimitMarkerTTL: time.Second, Storage: jetstream.FileStorage, Replicas: t.Replicas},
		{Bucket: BucketConfig, Description: "shared configuration", History: 1, Storage: jetstream.FileStorage, Replicas: t.Replicas},
		{Bucket: BucketPlacements, Description: "placement claims: which cluster and attempt may start each query", History: 1, TTL: t.StatusRetention, Storage: jetstream.FileStorage, Replicas: t.Replicas},
		{Bucket: BucketScheduler, Description: "fragment scheduler load (queued fragments), read by ingest", History: 1, Storage: jetstream.MemoryStorage, Replicas: t.Replicas},
		{Bucket: BucketClusterControl, Description: "operator wishes per cluster: drain, deactivate", History: 1, Storage: jetstream.FileStorage, Replicas: t.Replicas},
	}
}

// ObjectStores defines every object store.
func (t Topology) ObjectStores() []jetstream.ObjectStoreConfig {
	return []jetstream.ObjectStoreConfig{
		{Bucket: ObjectSnapshots, Description: "state snapshots (derived from the log, safe to delete)", Storage: jetstream.FileStorage, Replicas: t.Replicas},
		{Bucket: ObjectPlans, Description: "Substrait plans too large for an event", TTL: t.QueryRetention, Storage: jetstream.FileStorage, Replicas: t.Replicas},
		{Bucket: ObjectResults, Description: "intermediate results of plan fragments (deleted when their query ends)", TTL: t.StatusRetention, Storage: jetstream.FileStorage, Replicas: t.Replicas},
	}
}

// PlacementConsumer is placement's durable consumer of admitted queries.
func PlacementConsumer(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerPlacement,
		FilterSubject: SubjectAdmitted,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxAckPending: 10000,
	}
}

// SchedulerConsumer is fragment-scheduling's durable consumer of placed queries.
func SchedulerConsumer(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerScheduler,
		FilterSubject: SubjectPlaced,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxAckPending: 10000,
	}
}

// StatusViewConsumer is ingest's durable consumer that folds every lifecycle event into
// BucketQueryStatus.
func StatusViewConsumer() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerStatusView,
		FilterSubject: SubjectQueryAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       10 * time.Second,
		MaxAckPending: 10000,
	}
}

// ExecutorConsumerConfig is one cluster's durable consumer of fragments. MaxAckPending is
// the prefetch window: slots times the per-slot prefetch.
func ExecutorConsumerConfig(cluster string, maxAckPending int, ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ExecutorConsumer(cluster),
		FilterSubject: FragmentSubject(cluster),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxAckPending: maxAckPending,
	}
}

// PlanExecutorConsumerConfig is one cluster's durable consumer of plan fragments. The
// scheduler releases at most the cluster's window of them, so MaxAckPending only guards
// against a misconfigured scheduler.
func PlanExecutorConsumerConfig(cluster string, maxAckPending int, ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       PlanExecutorConsumer(cluster),
		FilterSubject: PlanFragmentSubject(cluster),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxAckPending: maxAckPending,
	}
}

// Ensure creates or updates every stream and bucket of the topology. It is idempotent and
// safe to call from every service at start.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range t.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.Buckets() {
		_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil && cfg.Bucket == BucketClusters {
			// Its storage type changed (older versions kept heartbeats on file), which no
			// update can do; its entries are rewritten within a heartbeat, so recreate it.
			if derr := js.DeleteKeyValue(ctx, cfg.Bucket); derr == nil {
				_, err = js.CreateKeyValue(ctx, cfg)
			}
		}
		if err != nil {
			return fmt.Errorf("ensure bucket %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.ObjectStores() {
		if _, err := js.CreateOrUpdateObjectStore(ctx, cfg); err != nil {
			return fmt.Errorf("ensure object store %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// WaitReady polls until JetStream answers (a cluster has elected its meta leader) or ctx ends.
func WaitReady(ctx context.Context, js jetstream.JetStream) error {
	for {
		_, err := js.AccountInfo(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("jetstream not ready: %w", err)
		case <-t.C:
		}
	}
}
