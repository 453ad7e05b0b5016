package testcoordinator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

// start runs a coordinator for the test and returns it with its base URL.
func start(t *testing.T, opts testcoordinator.Options) (*testcoordinator.Coordinator, string) {
	t.Helper()
	c := testcoordinator.New(opts)
	url, stop := c.Start()
	t.Cleanup(stop)
	return c, url
}

// prefix is the header prefix of a flavor.
func prefix(f events.Protocol) string {
	if f == events.ProtocolPresto {
		return "X-Presto-"
	}
	return "X-Trino-"
}

// call sends a request with headers given as name, value pairs and returns the status,
// the response headers and the body.
func call(t *testing.T, method, url, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// results decodes a QueryResults answer, failing the test unless status is 200.
func results(t *testing.T, status int, b []byte) protocol.QueryResults {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, b)
	}
	var r protocol.QueryResults
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return r
}

// submit POSTs sql as user on a coordinator of flavor f.
func submit(t *testing.T, f events.Protocol, url, sql string, headers ...string) protocol.QueryResults {
	t.Helper()
	headers = append([]string{prefix(f) + "User", "alice"}, headers...)
	status, _, b := call(t, http.MethodPost, url+"/v1/statement", sql, headers...)
	return results(t, status, b)
}

// get GETs a nextUri and decodes the page.
func get(t *testing.T, uri string) protocol.QueryResults {
	t.Helper()
	status, _, b := call(t, http.MethodGet, uri, "")
	return results(t, status, b)
}

// drain follows nextUri from first until the query ends (at most 1000 pages) and returns
// the columns, the rows (first's included) and the final page.
func drain(t *testing.T, first protocol.QueryResults) ([]protocol.Column, [][]any, protocol.QueryResults) {
	t.Helper()
	cols, rows := first.Columns, first.Data
	page := first
	for i := 0; page.NextURI != ""; i++ {
		if i > 1000 {
			t.Fatalf("query %s did not end", page.ID)
		}
		page = get(t, page.NextURI)
		if page.Columns != nil {
			cols = page.Columns
		}
		rows = append(rows, page.Data...)
	}
	return cols, rows, page
}

// queryInfo fetches GET /v1/query/{id} as a generic JSON object.
func queryInfo(t *testing.T, f events.Protocol, url, id string) (int, map[string]any) {
	t.Helper()
	status, _, b := call(t, http.MethodGet, url+"/v1/query/"+id, "", prefix(f)+"User", "admin")
	if status != http.StatusOK {
		return status, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return status, m
}

// field walks a decoded JSON object along keys.
func field(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// flavors lists both flavors for table tests.
var flavors = []events.Protocol{events.ProtocolTrino, events.ProtocolPresto}

// tokenRe matches the token of a queued or executing URL.
var tokenRe = regexp.MustCompile(`/(\d+)(\?slug=|$)`)

// withToken returns uri with its token replaced (a Trino slug then no longer matches).
func withToken(uri string, token int) string {
	return tokenRe.ReplaceAllString(uri, "/"+strconv.Itoa(token)+"$2")
}

// jsonDecode decodes a response body into v.
func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
