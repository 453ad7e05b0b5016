package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/pkg/natsutil"
)

// BenchmarkJetStreamSyncWrites measures the floor under Sluice's throughput on this machine:
// acknowledged publishes to one file-backed stream with every write synced (the settings of
// the QUERIES stream), from 1 and from 32 concurrent publishers. Each query writes 5 events
// to QUERIES, so writes/s / 5 bounds queries/s.
func BenchmarkJetStreamSyncWrites(b *testing.B) {
	ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: b.TempDir(), DontListen: true})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	ctx := context.Background()
	conn, err := natsutil.Connect(ctx, "", ns, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 600)
	run := func(publishers int, window time.Duration) float64 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		stop := time.Now().Add(window)
		start := time.Now()
		for p := 0; p < publishers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for i := 0; time.Now().Before(stop); i++ {
					if _, err := conn.JS.Publish(ctx, "b.x", payload, jetstream.WithMsgID(fmt.Sprintf("%p-%d-%d", &n, p, i))); err == nil {
						n++
					}
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		return float64(total) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		one := run(1, 2*time.Second)
		many := run(32, 2*time.Second)
		report("jetstream synced writes to one stream: 1 publisher %.0f/s (%.0f µs each) | 32 publishers %.0f/s -> ceiling %.0f queries/s at 5 QUERIES writes per query",
			one, 1e6/one, many, many/5)
		b.ReportMetric(one, "writes/s-1pub")
		b.ReportMetric(many, "writes/s-32pub")
	}
}
