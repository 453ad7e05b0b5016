package coordinator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
)

var flavors = []events.Protocol{events.ProtocolTrino, events.ProtocolPresto}

// startCoordinator runs a test coordinator of flavor f.
func startCoordinator(t *testing.T, opts testcoordinator.Options) (*testcoordinator.Coordinator, string) {
	t.Helper()
	if opts.MaxWait == 0 {
		opts.MaxWait = 5 * time.Millisecond
	}
	c := testcoordinator.New(opts)
	url, stop := c.Start()
	t.Cleanup(stop)
	return c, url
}

// newClient builds a client of url with the coordinator's flavor.
func newClient(t *testing.T, url string, f events.Protocol, opts ...coordinator.Option) *coordinator.Client {
	t.Helper()
	cl, err := coordinator.New(url, append([]coordinator.Option{coordinator.WithFlavor(f)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// spec returns a query spec with an engine-compatible Sluice ID.
func spec(id, sql string) events.QuerySpec {
	return events.QuerySpec{ID: id, SQL: sql, User: "alice", Protocol: events.ProtocolTrino}
}

// follow polls nextUri as a client would until the query ends, and returns the final page
// and the number of rows read.
func follow(t *testing.T, nextURI string) (protocol.QueryResults, int) {
	t.Helper()
	var page protocol.QueryResults
	rows := 0
	for i := 0; nextURI != ""; i++ {
		if i > 1000 {
			t.Fatal("query did not end")
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, nextURI, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Trino-User", "alice")
		req.Header.Set("X-Presto-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", nextURI, resp.StatusCode, b)
		}
		page = protocol.QueryResults{}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		rows += len(page.Data)
		nextURI = page.NextURI
	}
	return page, rows
}
