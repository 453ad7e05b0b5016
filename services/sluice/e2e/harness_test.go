// Package e2e runs Sluice end to end: every service with a real embedded NATS server
// (JetStream, file storage), real DuckDB clusters, and unmodified clients.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/services/executorproxy"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// sharedTPCH is a data directory holding the generated TPC-H tiny schema, made once.
var sharedTPCH string

// sluiceBin is the sluice binary built once for the multi-process tests.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		panic(err)
	}
	sharedTPCH = filepath.Join(dir, "data")
	ctx := context.Background()
	if err := executorproxy.EnsureTPCH(ctx, sharedTPCH, 0, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, "generate tpch:", err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, "github.com/sluicehq/sluice/services/sluice")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// newDataDir returns a fresh data directory whose tpch folder links to the shared data.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(sharedTPCH, "tpch"), filepath.Join(dir, "tpch")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// upInProcess runs `sluice up` in this process and returns the client URL.
func upInProcess(t *testing.T, mutate func(*cli.UpConfig)) string {
	t.Helper()
	return upOn(t, newDataDir(t), mutate)
}

// upOn runs `sluice up` on dataDir until the test ends (or stop is called) and returns the
// client URL.
func upOn(t *testing.T, dataDir string, mutate func(*cli.UpConfig)) string {
	url, _ := upStoppable(t, dataDir, mutate)
	return url
}

// upStoppable is upOn that also returns a function stopping Sluice gracefully.
func upStoppable(t *testing.T, dataDir string, mutate func(*cli.UpConfig)) (string, func()) {
	t.Helper()
	cfg := cli.UpConfig{DataDir: dataDir, HTTPAddr: "127.0.0.1:0", NatsListen: "", MaxRunning: 8, Clusters: 2,
		Slots: 4, ClusterAddr: "127.0.0.1:0", AckWait: 2 * time.Second, ClientTimeout: 5 * time.Minute}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	go func() { done <- cli.Up(ctx, cfg, func(u string) { urlc <- u }, log) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sluice up: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("sluice up did not stop within 20s")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case u := <-urlc:
		return u, stop
	case err := <-done:
		once.Do(func() {}) // it has stopped: nothing for stop to wait for
		t.Fatalf("sluice up ended before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("sluice up not ready within 60s")
	}
	return "", stop
}

var placeholder = regexp.MustCompile(`'\{([a-z]+)\}'`)

// tpchSQL reads TPC-H query n from the shared data and qualifies its tables with prefix.
func tpchSQL(t *testing.T, n int, prefix string) string {
	t.Helper()
	b := shareddata.TPCH(t, "sql", fmt.Sprintf("q%02d.sql", n))
	q := placeholder.ReplaceAllString(string(b), prefix+"$1")
	return strings.TrimRight(strings.TrimSpace(q), ";")
}

// rawClient speaks the statement protocol with plain HTTP, for header families and edge
// cases the Go driver does not expose.
type rawClient struct {
	t       *testing.T
	base    string
	headers map[string]string
}

func (c rawClient) do(method, url string, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c rawClient) results(method, url, body string) protocol.QueryResults {
	c.t.Helper()
	code, b := c.do(method, url, body)
	if code != http.StatusOK {
		c.t.Fatalf("%s %s: HTTP %d: %s", method, url, code, b)
	}
	var qr protocol.QueryResults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&qr); err != nil {
		c.t.Fatalf("%s %s: bad QueryResults %s: %v", method, url, b, err)
	}
	return qr
}

// run submits sql and follows nextUri to the end, returning every response.
func (c rawClient) run(sql string) []protocol.QueryResults {
	c.t.Helper()
	return c.follow(c.results(http.MethodPost, c.base+"/v1/statement", sql))
}

// follow follows nextUri from the first response to the end, returning every response.
func (c rawClient) follow(qr protocol.QueryResults) []protocol.QueryResults {
	c.t.Helper()
	out := []protocol.QueryResults{qr}
	deadline := time.Now().Add(60 * time.Second)
	for qr.NextURI != "" {
		if time.Now().After(deadline) {
			c.t.Fatalf("query %s did not finish in 60s", qr.ID)
		}
		qr = c.results(http.MethodGet, qr.NextURI, "")
		out = append(out, qr)
	}
	return out
}

func rowsOf(pages []protocol.QueryResults) [][]any {
	var rows [][]any
	for _, p := range pages {
		rows = append(rows, p.Data...)
	}
	return rows
}
