// Package bench measures Sluice against a local cluster's own endpoint in the same run, so
// that the figures are ratios robust to a shared, noisy machine. Run with `make bench`.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// fleet starts `sluice up` in this process and returns the Sluice URL and local-1's URL.
func fleet(b *testing.B, maxRunning, slots int) (sluiceURL, clusterURL string) {
	b.Helper()
	u, clusters := upFleet(b, cli.UpConfig{MaxRunning: maxRunning, Clusters: 2, Slots: slots})
	return u, clusters["local-1"]
}

// upFleet starts `sluice up` with cfg in this process: its data in cfg.DataDir or else a
// temporary directory, every listener on a free port, NATS in-process only, logs discarded.
// It returns the Sluice URL and each local cluster's own URL by name ("local-1", ...), and
// stops it all when b ends.
func upFleet(b *testing.B, cfg cli.UpConfig) (sluiceURL string, clusters map[string]string) {
	b.Helper()
	sluiceURL, clusters, _ = startFleet(b, cfg)
	return sluiceURL, clusters
}

// startFleet is upFleet that also returns a function stopping the fleet before b ends
// (it waits until everything has stopped; calling it again does nothing).
func startFleet(b *testing.B, cfg cli.UpConfig) (sluiceURL string, clusters map[string]string, stop func()) {
	b.Helper()
	var mu sync.Mutex
	clusters = map[string]string{}
	if cfg.DataDir == "" {
		cfg.DataDir = b.TempDir()
	}
	cfg.HTTPAddr, cfg.NatsListen, cfg.ClusterAddr = "127.0.0.1:0", "", "127.0.0.1:0"
	if cfg.AckWait == 0 {
		cfg.AckWait = 10 * time.Second
	}
	cfg.OnCluster = func(name, url string) { mu.Lock(); clusters[name] = url; mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	var upErr error
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		upErr = cli.Up(ctx, cfg, func(u string) { urlc <- u }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	stop = sync.OnceFunc(func() { cancel(); <-exited })
	b.Cleanup(stop)
	select {
	case u := <-urlc:
		mu.Lock()
		defer mu.Unlock()
		return u, maps.Clone(clusters), stop
	case <-exited:
		b.Fatalf("sluice up: %v", upErr)
	case <-time.After(120 * time.Second):
		b.Fatal("sluice up not ready")
	}
	return "", nil, stop
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}

// runQuery submits sql to base and follows nextUri to the end, like a Trino client.
func runQuery(base, sql string) error {
	_, err := statement(base, sql, nil)
	return err
}

// statement submits sql to base as user "bench" with the extra headers hdr, follows nextUri
// to the end like a Trino client, and returns every row (numbers as json.Number).
func statement(base, sql string, hdr http.Header) ([][]any, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/statement", strings.NewReader(sql))
	for k, v := range hdr {
		req.Header[k] = v
	}
	_, rows, err := followQuery(req)
	return rows, err
}

// followQuery sends a submission (POST /v1/statement or /v1/plan) as user "bench", follows
// nextUri to the end like a Trino client, and returns the query ID and every row (numbers
// as json.Number); a query error is returned as the error.
func followQuery(req *http.Request) (string, [][]any, error) {
	var rows [][]any
	for {
		req.Header.Set("X-Trino-User", "bench")
		resp, err := client.Do(req)
		if err != nil {
			return "", rows, err
		}
		var qr protocol.QueryResults
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		err = dec.Decode(&qr)
		resp.Body.Close()
		if err != nil {
			return qr.ID, rows, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
		}
		if qr.Error != nil {
			return qr.ID, rows, qr.Error
		}
		rows = append(rows, qr.Data...)
		if qr.NextURI == "" {
			return qr.ID, rows, nil
		}
		req, _ = http.NewRequest(http.MethodGet, qr.NextURI, nil)
	}
}

// playOpenLoop starts run(i) from its own goroutine at offset at[i] from now (open loop:
// an arrival never waits for earlier ones) and returns once every run has returned.
func playOpenLoop(at []time.Duration, run func(i int)) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, d := range at {
		time.Sleep(time.Until(t0.Add(d))) // follow the arrival schedule
		wg.Go(func() { run(i) })
	}
	wg.Wait()
}

// percentile returns the p-quantile (0..1) of sorted, nearest rank below.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// report prints a line and appends it to $SLUICE_BENCH_OUT when set.
func report(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Println(line)
	if path := os.Getenv("SLUICE_BENCH_OUT"); path != "" {
		if f, err := os.OpenFile(filepath.Clean(path), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}

// BenchmarkAddedLatency: SELECT 1, submit to last page, through Sluice (all five services
// over JetStream with fsync on every write) versus straight to local-1's own endpoint,
// interleaved in the same run.
func BenchmarkAddedLatency(b *testing.B) {
	sluice, direct := fleet(b, 64, 8)
	const n = 300
	for i := 0; i < 20; i++ { // warm up connections and DuckDB
		_ = runQuery(sluice, "SELECT 1")
		_ = runQuery(direct, "SELECT 1")
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var through, straight []time.Duration
		for i := 0; i < n; i++ {
			t0 := time.Now()
			if err := runQuery(direct, "SELECT 1"); err != nil {
				b.Fatal(err)
			}
			straight = append(straight, time.Since(t0))
			t0 = time.Now()
			if err := runQuery(sluice, "SELECT 1"); err != nil {
				b.Fatal(err)
			}
			through = append(through, time.Since(t0))
		}
		sort.Slice(through, func(i, j int) bool { return through[i] < through[j] })
		sort.Slice(straight, func(i, j int) bool { return straight[i] < straight[j] })
		m1, m2 := percentile(through, 0.5), percentile(straight, 0.5)
		p1, p2 := percentile(through, 0.99), percentile(straight, 0.99)
		report("added-latency SELECT 1 (n=%d): sluice median %.2f ms p99 %.2f ms | direct median %.2f ms p99 %.2f ms | added median %.2f ms (ratio %.2fx), added p99 %.2f ms",
			n, ms(m1), ms(p1), ms(m2), ms(p2), ms(m1-m2), float64(m1)/float64(m2), ms(p1-p2))
		b.ReportMetric(ms(m1-m2), "added-median-ms")
		b.ReportMetric(ms(p1-p2), "added-p99-ms")
		b.ReportMetric(float64(m1)/float64(m2), "median-ratio")
	}
}

// BenchmarkThroughput32Clients: SELECT 1 from 32 concurrent clients for a fixed time,
// through Sluice versus straight to one local cluster.
func BenchmarkThroughput32Clients(b *testing.B) {
	sluice, direct := fleet(b, 64, 16)
	const clients = 32
	const window = 5 * time.Second
	measure := func(base string) (float64, int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total, failed := 0, 0
		stop := time.Now().Add(window)
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, bad := 0, 0
				for time.Now().Before(stop) {
					if err := runQuery(base, "SELECT 1"); err != nil {
						if bad == 0 {
							b.Logf("%s: query failed: %v", base, err)
						}
						bad++
					} else {
						ok++
					}
				}
				mu.Lock()
				total += ok
				failed += bad
				mu.Unlock()
			}()
		}
		wg.Wait()
		return float64(total) / time.Since(start).Seconds(), failed
	}
	_ = runQuery(sluice, "SELECT 1")
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		qpsDirect, failDirect := measure(direct)
		qpsSluice, failSluice := measure(sluice)
		report("throughput SELECT 1, %d clients, %s each: sluice %.0f queries/s (%d failed) | direct to local-1 %.0f queries/s (%d failed) | ratio %.2f",
			clients, window, qpsSluice, failSluice, qpsDirect, failDirect, qpsSluice/qpsDirect)
		b.ReportMetric(qpsSluice, "sluice-qps")
		b.ReportMetric(qpsDirect, "direct-qps")
	}
}
