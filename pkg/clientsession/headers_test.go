package clientsession_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/clientsession"
)

// header builds an http.Header the way net/http does (canonical keys, repeated values kept).
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestParse(t *testing.T) {
	t.Parallel()
	// Each case is written for one family; it runs once with X-Trino-* and once with
	// X-Presto-* by substituting the prefix "P-".
	cases := []struct {
		name    string
		headers []string
		want    events.QuerySpec // Protocol is filled per family
		wantErr error
	}{
		{
			name:    "identity and plain headers",
			headers: []string{"P-User", "alice", "P-Original-User", "bob", "P-Source", "cli", "P-Catalog", "tpch", "P-Schema", "sf1", "P-Path", "a.b", "P-Time-Zone", "UTC", "P-Language", "en-US", "P-Trace-Token", "tt", "P-Client-Info", "info, with comma", "P-Routing-Group", "etl"},
			want:    events.QuerySpec{User: "alice", OriginalUser: "bob", Source: "cli", Catalog: "tpch", Schema: "sf1", Path: "a.b", TimeZone: "UTC", Language: "en-US", TraceToken: "tt", ClientInfo: "info, with comma", RoutingGroup: "etl"},
		},
		{
			name:    "session across repeated headers, URL-decoded",
			headers: []string{"P-User", "u", "P-Session", "a=1, b=x%20y", "P-Session", "c=a+b%2Cc", "P-Session", " , "},
			want:    events.QuerySpec{User: "u", Session: map[string]string{"a": "1", "b": "x y", "c": "a b,c"}},
		},
		{
			name:    "session value may contain '='",
			headers: []string{"P-User", "u", "P-Session", "k=a=b"},
			want:    events.QuerySpec{User: "u", Session: map[string]string{"k": "a=b"}},
		},
		{
			name:    "session names are decoded too",
			headers: []string{"P-User", "u", "P-Session", "cat%2Eprop=v"},
			want:    events.QuerySpec{User: "u", Session: map[string]string{"cat.prop": "v"}},
		},
		{
			name:    "client tags split, trimmed, empty dropped",
			headers: []string{"P-User", "u", "P-Client-Tags", "etl, nightly,,", "P-Client-Tags", " adhoc "},
			want:    events.QuerySpec{User: "u", ClientTags: []string{"etl", "nightly", "adhoc"}},
		},
		{
			name:    "resource estimate kept verbatim",
			headers: []string{"P-User", "u", "P-Resource-Estimate", "EXECUTION_TIME=1m, PEAK_MEMORY=8GB", "P-Resource-Estimate", "CPU_TIME=a%20b"},
			want:    events.QuerySpec{User: "u", ResourceEstimate: map[string]string{"EXECUTION_TIME": "1m", "PEAK_MEMORY": "8GB", "CPU_TIME": "a%20b"}},
		},
		{
			name:    "prepared statements URL-decoded",
			headers: []string{"P-User", "u", "P-Prepared-Statement", "q1=SELECT+*+FROM+t+WHERE+x+%3D+%3F%2C+y, my%20q=SELECT+1"},
			want:    events.QuerySpec{User: "u", PreparedStmts: map[string]string{"q1": "SELECT * FROM t WHERE x = ?, y", "my q": "SELECT 1"}},
		},
		{
			name:    "roles and extra credentials",
			headers: []string{"P-User", "u", "P-Role", "system=ROLE%7Badmin%7D", "P-Extra-Credential", "token=a%3Db"},
			want:    events.QuerySpec{User: "u", Roles: map[string]string{"system": "ROLE{admin}"}, ExtraCredentials: map[string]string{"token": "a=b"}},
		},
		{
			name:    "transaction NONE means none",
			headers: []string{"P-User", "u", "P-Transaction-Id", "NONE"},
			want:    events.QuerySpec{User: "u"},
		},
		{
			name:    "transaction none in lower case",
			headers: []string{"P-User", "u", "P-Transaction-Id", "none"},
			want:    events.QuerySpec{User: "u"},
		},
		{
			name:    "transaction id",
			headers: []string{"P-User", "u", "P-Transaction-Id", "tx-1234"},
			want:    events.QuerySpec{User: "u", TransactionID: "tx-1234"},
		},
		{
			name:    "basic auth user when no user header",
			headers: []string{"Authorization", basic("carol", "pw"), "P-Catalog", "c"},
			want:    events.QuerySpec{User: "carol", Catalog: "c"},
		},
		{
			name:    "user header wins over basic auth",
			headers: []string{"Authorization", basic("carol", "pw"), "P-User", "alice"},
			want:    events.QuerySpec{User: "alice"},
		},
		{name: "no user", headers: []string{"P-Catalog", "c"}, wantErr: clientsession.ErrNoUser},
		{name: "empty user", headers: []string{"P-User", ""}, wantErr: clientsession.ErrNoUser},
		{name: "basic auth with empty user", headers: []string{"Authorization", basic("", "pw")}, wantErr: clientsession.ErrNoUser},
		{name: "bearer is not a user", headers: []string{"Authorization", "Bearer abc"}, wantErr: clientsession.ErrNoUser},
		{name: "session pair without '='", headers: []string{"P-User", "u", "P-Session", "a=1, b"}, wantErr: clientsession.ErrBadHeader},
		{name: "session pair with empty name", headers: []string{"P-User", "u", "P-Session", "=1"}, wantErr: clientsession.ErrBadHeader},
		{name: "session bad escape", headers: []string{"P-User", "u", "P-Session", "a=%zz"}, wantErr: clientsession.ErrBadHeader},
		{name: "session bad escape in name", headers: []string{"P-User", "u", "P-Session", "%g=1"}, wantErr: clientsession.ErrBadHeader},
		{name: "role without '='", headers: []string{"P-User", "u", "P-Role", "admin"}, wantErr: clientsession.ErrBadHeader},
		{name: "prepared statement bad escape", headers: []string{"P-User", "u", "P-Prepared-Statement", "q=SELECT%"}, wantErr: clientsession.ErrBadHeader},
		{name: "extra credential without '='", headers: []string{"P-User", "u", "P-Extra-Credential", "tok"}, wantErr: clientsession.ErrBadHeader},
		{name: "resource estimate without '='", headers: []string{"P-User", "u", "P-Resource-Estimate", "PEAK_MEMORY"}, wantErr: clientsession.ErrBadHeader},
	}
	families := []struct {
		proto  events.Protocol
		prefix string
	}{
		{events.ProtocolTrino, "X-Trino-"},
		{events.ProtocolPresto, "X-Presto-"},
	}
	for _, fam := range families {
		for _, c := range cases {
			t.Run(string(fam.proto)+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				kv := make([]string, len(c.headers))
				for i, s := range c.headers {
					kv[i] = strings.Replace(s, "P-", fam.prefix, 1)
				}
				h := header(kv...)
				got, err := clientsession.Parse(h)
				if c.wantErr != nil {
					if !errors.Is(err, c.wantErr) {
						t.Fatalf("Parse error = %v, want %v", err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				want := c.want
				want.Protocol = fam.proto
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Parse\n got: %+v\nwant: %+v", got, want)
				}
			})
		}
	}
}

func TestFamily(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		h          http.Header
		wantProto  events.Protocol
		wantPrefix string
		wantErr    error
	}{
		{"trino", header("X-Trino-User", "u"), events.ProtocolTrino, "X-Trino-", nil},
		{"presto", header("X-Presto-User", "u"), events.ProtocolPresto, "X-Presto-", nil},
		{"no family header defaults to trino", header("Authorization", basic("u", "p")), events.ProtocolTrino, "X-Trino-", nil},
		{"empty", http.Header{}, events.ProtocolTrino, "X-Trino-", nil},
		{"non-canonical presto key", http.Header{"x-presto-source": {"s"}}, events.ProtocolPresto, "X-Presto-", nil},
		{"mixed", header("X-Trino-User", "u", "X-Presto-Source", "s"), "", "", clientsession.ErrMixedFamilies},
		{"mixed, non-user headers", header("X-Trino-Catalog", "c", "X-Presto-Schema", "s"), "", "", clientsession.ErrMixedFamilies},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			proto, prefix, err := clientsession.Family(c.h)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Family error = %v, want %v", err, c.wantErr)
			}
			if proto != c.wantProto || prefix != c.wantPrefix {
				t.Errorf("Family = (%q, %q), want (%q, %q)", proto, prefix, c.wantProto, c.wantPrefix)
			}
			if err == nil && clientsession.Prefix(proto) != prefix {
				t.Errorf("Prefix(%q) = %q, want %q", proto, clientsession.Prefix(proto), prefix)
			}
		})
	}
	if _, err := clientsession.Parse(header("X-Trino-User", "u", "X-Presto-User", "u")); !errors.Is(err, clientsession.ErrMixedFamilies) {
		t.Errorf("Parse of mixed families = %v, want ErrMixedFamilies", err)
	}
}

// TestMessage checks the 400 texts match what a coordinator answers for the same headers.
func TestMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		h    http.Header
		want string
	}{
		{header("X-Trino-User", "u", "X-Presto-User", "u"), "Both Trino and Presto headers detected"},
		{header("X-Trino-Catalog", "c"), "User must be set"},
		{header("X-Presto-User", "u", "X-Presto-Session", "a"), `Invalid header: X-Presto-Session: "a" is not name=value`},
	}
	for _, c := range cases {
		_, err := clientsession.Parse(c.h)
		if err == nil {
			t.Fatalf("Parse(%v) succeeded", c.h)
		}
		if got := clientsession.Message(err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", err, got, c.want)
		}
	}
	if got := clientsession.Message(errors.New("")); got != "" {
		t.Errorf("Message of an empty error = %q", got)
	}
}
