package e2e

import (
	"github.com/sluicehq/sluice/pkg/natstest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// TestRestartResumesQueuedQueries: queries queued when Sluice stops run when it starts
// again on the same data directory.
func TestRestartResumesQueuedQueries(t *testing.T) {
	dir := newDataDir(t)
	url, stop := upStoppable(t, dir, func(c *cli.UpConfig) { c.MaxRunning = 0; c.HTTPAddr = "127.0.0.1:0" })
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "resume", "X-Trino-Catalog": "tpch", "X-Trino-Schema": "tiny"}}
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, c.results(http.MethodPost, url+"/v1/statement", "SELECT count(*) FROM region").ID)
	}
	for _, id := range ids {
		if s := queryState(t, url, id); s != "QUEUED" {
			t.Fatalf("query %s is %s before the restart, want QUEUED", id, s)
		}
	}
	stop()

	url2 := upOn(t, dir, func(c *cli.UpConfig) { c.MaxRunning = 2 })
	for _, id := range ids {
		natstest.Eventually(t, 30*time.Second, "query "+id+" finished after the restart", func() bool { return queryState(t, url2, id) == "FINISHED" })
	}
}

// TestAbandonedQueuedQuery: a queued query whose client stops polling is canceled with
// ABANDONED_QUERY after the client timeout.
func TestAbandonedQueuedQuery(t *testing.T) {
	url := upInProcess(t, func(c *cli.UpConfig) { c.MaxRunning = 0; c.ClientTimeout = 300 * time.Millisecond })
	c := rawClient{t: t, base: url, headers: map[string]string{"X-Trino-User": "gone"}}
	id := c.results(http.MethodPost, url+"/v1/statement", "SELECT 1").ID
	natstest.Eventually(t, 20*time.Second, "query abandoned", func() bool { return queryState(t, url, id) == "CANCELED" })
	_, body := c.do(http.MethodGet, url+"/v1/query/"+id, "")
	if !strings.Contains(string(body), "ABANDONED_QUERY") {
		t.Fatalf("query info %s lacks ABANDONED_QUERY", body)
	}
}
