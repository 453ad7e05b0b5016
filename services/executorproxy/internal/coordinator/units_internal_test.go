package coordinator

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/clientsession"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := map[string]time.Duration{
		"1.50s": 1500 * time.Millisecond, "3.00m": 3 * time.Minute, "250ms": 250 * time.Millisecond,
		"250.00ms": 250 * time.Millisecond, "2.00h": 2 * time.Hour, "1.00d": 24 * time.Hour,
		"10.00us": 10 * time.Microsecond, "100ns": 100, "0.00ns": 0, " 5s ": 5 * time.Second,
		"1.5 s": 1500 * time.Millisecond,
	}
	for in, want := range cases {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "1", "1.5", "-1s", "1e3s", "1.2.3s", "NaNs", "1ss", "1 fortnight", "99999999999999999999d"} {
		if d, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", bad, d)
		}
	}
	if durationOrZero("garbage") != 0 || durationOrZero("2.00m") != 2*time.Minute {
		t.Error("durationOrZero")
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1.50s", "3.00m", "250ms", "2.00h", "1.00d", "10.00us", "100ns", "", "x", "1e9d", "9223372036854775807ns", ".5s", "0.", "-0s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("parseDuration(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("parseDuration(%q) = %v: negative", s, d)
		}
	})
}

func TestDataSize(t *testing.T) {
	t.Parallel()
	cases := map[string]int64{
		"10MB": 10 << 20, "1.5GB": 3 << 29, "512B": 512, "2kB": 2 << 10, "0B": 0, "1.50GB": 3 << 29,
		"": 0, "bogus": 0, "-1MB": 0, "3PB": 3 << 50,
	}
	for in, want := range cases {
		if got := dataSizeOrZero(in); got != want {
			t.Errorf("dataSizeOrZero(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestSessionHeadersRoundTrip checks that the headers Dispatch sends parse back, with
// Sluice's own header parser, into the spec they came from (routing group excepted).
func TestSessionHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	in := events.QuerySpec{
		User: "alice", OriginalUser: "root", Source: "a b", Catalog: "c", Schema: "s", Path: "c.s",
		TimeZone: "UTC", Language: "en-US", TraceToken: "t", ClientInfo: "{\"json\": true}",
		ClientTags: []string{"x", "y"},
		Session:    map[string]string{"a": "1,2", "b.c": "=%+ é"},
		Roles:      map[string]string{"hive": "ROLE{x y}"},
		PreparedStmts: map[string]string{
			"q 1": "SELECT 'a,b' = ?", "q2": "VALUES 1",
		},
		ExtraCredentials: map[string]string{"k=1": "v,2"},
		ResourceEstimate: map[string]string{"CPU_TIME": "1h"},
		TransactionID:    "tx",
		RoutingGroup:     "never-sent",
	}
	for _, f := range []events.Protocol{events.ProtocolTrino, events.ProtocolPresto} {
		p := "X-Trino-"
		if f == events.ProtocolPresto {
			p = "X-Presto-"
		}
		h := sessionHeaders(p, f, in)
		if err := checkHeaders(h); err != nil {
			t.Fatal(err)
		}
		got, err := clientsession.Parse(h)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := in
		want.Protocol, want.RoutingGroup = f, ""
		if f == events.ProtocolPresto {
			want.OriginalUser = ""
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s round trip\n got %+v\nwant %+v", f, got, want)
		}
		if h.Get(p+"Routing-Group") != "" {
			t.Errorf("routing group sent")
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{"plain": true, "tab\there": true, "new\nline": false, "cr\r": false, "nul\x00": false, "del\x7f": false, "é": true} {
		err := checkHeaders(http.Header{"X": {v}})
		if (err == nil) != ok {
			t.Errorf("checkHeaders(%q) = %v", v, err)
		}
	}
}
