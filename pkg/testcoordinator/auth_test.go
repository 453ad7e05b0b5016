package testcoordinator_test

import (
	"encoding/base64"
	"net/http"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{
				Flavor:    f,
				BasicAuth: map[string]string{"sluice": "s3cret", "carol": "pw"},
				CanImpersonate: func(principal, user string) bool {
					return principal == "sluice"
				},
			})
			p := prefix(f)
			realm := `Basic realm="Trino"`
			if f == events.ProtocolPresto {
				realm = `Basic realm="Presto"`
			}
			for name, auth := range map[string]string{"missing": "", "wrong password": basic("sluice", "nope"), "unknown user": basic("eve", "x")} {
				var hs []string
				if auth != "" {
					hs = []string{"Authorization", auth}
				}
				status, hdr, _ := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", append(hs, p+"User", "alice")...)
				if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != realm {
					t.Errorf("%s: %d %q", name, status, hdr.Get("WWW-Authenticate"))
				}
			}

			// The service principal may impersonate alice.
			status, _, b := call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", "Authorization", basic("sluice", "s3cret"), p+"User", "alice")
			first := results(t, status, b)
			rec, _ := c.Query(first.ID)
			if rec.Principal != "sluice" || rec.Spec.User != "alice" || rec.Header.Get("Authorization") != basic("sluice", "s3cret") {
				t.Errorf("record = %+v", rec)
			}
			authHeader := []string{"Authorization", basic("sluice", "s3cret")}
			r0 := getWith(t, first.NextURI, authHeader...)
			if r0.Error != nil {
				t.Errorf("impersonation allowed, got %+v", r0.Error)
			}

			// carol may not.
			status, _, b = call(t, http.MethodPost, url+"/v1/statement", "SELECT 1", "Authorization", basic("carol", "pw"), p+"User", "alice")
			denied := getWith(t, results(t, status, b).NextURI, "Authorization", basic("carol", "pw"))
			if denied.Error == nil || denied.Error.ErrorName != "PERMISSION_DENIED" || denied.Error.Message != "Access Denied: User carol cannot impersonate user alice" {
				t.Errorf("denied impersonation = %+v", denied)
			}

			// Polls: public on Trino, authenticated on Presto.
			status, _, _ = call(t, http.MethodGet, first.NextURI, "")
			if f == events.ProtocolPresto && status != http.StatusUnauthorized {
				t.Errorf("Presto poll without credentials: %d, want 401", status)
			}
			if f == events.ProtocolTrino && status == http.StatusUnauthorized {
				t.Errorf("Trino polls are public, got 401")
			}
			// /v1/info stays public.
			if status, _, _ := call(t, http.MethodGet, url+"/v1/info", ""); status != 200 {
				t.Errorf("/v1/info: %d", status)
			}
		})
	}
}

// getWith GETs a URI with headers and decodes the page.
func getWith(t *testing.T, uri string, headers ...string) protocol.QueryResults {
	t.Helper()
	status, _, b := call(t, http.MethodGet, uri, "", headers...)
	return results(t, status, b)
}

func TestRecordsSessionAndHeaders(t *testing.T) {
	t.Parallel()
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			c, url := start(t, testcoordinator.Options{Flavor: f})
			p := prefix(f)
			first := submit(t, f, url, "SELECT 1",
				p+"Original-User", "root", p+"Source", "dbt", p+"Catalog", "hive", p+"Schema", "web",
				p+"Path", "hive.web", p+"Session", "a=1,b=x%20y", p+"Client-Tags", "t1, t2", p+"Client-Info", "ci",
				p+"Extra-Credential", "token=abc%3D", p+"Trace-Token", "tt-9", p+"Prepared-Statement", "q1=SELECT+1",
				p+"Role", "system=ALL", p+"Resource-Estimate", "CPU_TIME=1h", p+"Transaction-Id", "NONE",
				"Authorization", "Bearer jwt-1")
			rec, ok := c.Query(first.ID)
			if !ok {
				t.Fatal("no record")
			}
			want := events.QuerySpec{
				ID: first.ID, SQL: "SELECT 1", Protocol: f, User: "alice", OriginalUser: "root", Source: "dbt",
				Catalog: "hive", Schema: "web", Path: "hive.web", TraceToken: "tt-9", ClientInfo: "ci",
				ClientTags: []string{"t1", "t2"}, Session: map[string]string{"a": "1", "b": "x y"},
				Roles: map[string]string{"system": "ALL"}, PreparedStmts: map[string]string{"q1": "SELECT 1"},
				ExtraCredentials: map[string]string{"token": "abc="}, ResourceEstimate: map[string]string{"CPU_TIME": "1h"},
			}
			if !reflect.DeepEqual(rec.Spec, want) {
				t.Errorf("spec\n got %+v\nwant %+v", rec.Spec, want)
			}
			if rec.Header.Get("Authorization") != "Bearer jwt-1" || rec.Header.Get(p+"Trace-Token") != "tt-9" {
				t.Errorf("headers = %v", rec.Header)
			}
			reqs := c.Requests()
			if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/statement" || reqs[0].Status != 200 {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}
