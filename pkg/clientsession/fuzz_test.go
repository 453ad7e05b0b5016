package clientsession_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/clientsession"
)

// FuzzParse feeds arbitrary header values to Parse. It must never panic, every error must
// be one of the package's sentinels, and a successful parse always names a user and yields
// clean client tags and non-empty pair names.
func FuzzParse(f *testing.F) {
	f.Add(uint8(0), "alice", "", "a=1, b=x%20y", "etl, nightly", "q1=SELECT+1", "PEAK_MEMORY=8GB", "NONE", "system=ROLE%7Badmin%7D")
	f.Add(uint8(1), "", "Basic Ym9iOnB3", "", "", "", "", "tx-1", "")
	f.Add(uint8(2), "u", "", "a", ",,", "=", "x", "", "%")
	f.Add(uint8(3), "u", "Basic !!!", "a=%zz", "", "q=%", "", "none", "")
	f.Fuzz(func(t *testing.T, fam uint8, user, auth, session, tags, prepared, estimate, tx, role string) {
		prefixes := []string{"X-Trino-", "X-Presto-"}
		h := http.Header{}
		add := func(p, k, v string) {
			if v != "" {
				h.Add(p+k, v)
			}
		}
		p := prefixes[fam%2]
		add(p, "User", user)
		add("", "Authorization", auth)
		add(p, "Session", session)
		add(p, "Client-Tags", tags)
		add(p, "Prepared-Statement", prepared)
		add(p, "Resource-Estimate", estimate)
		add(p, "Transaction-Id", tx)
		add(p, "Role", role)
		if fam&2 != 0 {
			// Bit 1 of fam adds a header of the other family.
			add(prefixes[(fam+1)%2], "Source", "other")
		}

		spec, err := clientsession.Parse(h)
		if err != nil {
			if !errors.Is(err, clientsession.ErrMixedFamilies) && !errors.Is(err, clientsession.ErrNoUser) && !errors.Is(err, clientsession.ErrBadHeader) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if fam&2 != 0 {
			t.Fatalf("mixed families accepted: %v", h)
		}
		if spec.User == "" {
			t.Fatalf("parse succeeded without a user: %v", h)
		}
		if want := []events.Protocol{events.ProtocolTrino, events.ProtocolPresto}[fam%2]; spec.Protocol != want {
			t.Fatalf("protocol = %q, want %q", spec.Protocol, want)
		}
		if spec.TransactionID != "" && strings.EqualFold(spec.TransactionID, "NONE") {
			t.Fatalf("transaction NONE kept as an id")
		}
		for _, tag := range spec.ClientTags {
			if tag == "" || tag != strings.TrimSpace(tag) || strings.Contains(tag, ",") {
				t.Fatalf("bad client tag %q", tag)
			}
		}
		for _, m := range []map[string]string{spec.Session, spec.Roles, spec.PreparedStmts, spec.ExtraCredentials, spec.ResourceEstimate} {
			for k := range m {
				if k == "" {
					t.Fatalf("empty pair name in %v", m)
				}
			}
		}
	})
}
