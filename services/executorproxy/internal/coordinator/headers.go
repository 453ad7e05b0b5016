package coordinator

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/events"
)

// sessionHeaders encodes the identity and session of spec as the request headers of a
// statement POST in the header family of prefix, the inverse of clientsession.Parse. The
// routing group is Sluice's own and is not sent; Original-User exists only in Trino.
func sessionHeaders(prefix string, flavor events.Protocol, spec events.QuerySpec) http.Header {
	h := http.Header{}
	set := func(name, v string) {
		if v != "" {
			h.Set(prefix+name, v)
		}
	}
	set("User", spec.User)
	if flavor == events.ProtocolTrino {
		set("Original-User", spec.OriginalUser)
	}
	set("Source", spec.Source)
	set("Catalog", spec.Catalog)
	set("Schema", spec.Schema)
	set("Path", spec.Path)
	set("Time-Zone", spec.TimeZone)
	set("Language", spec.Language)
	set("Trace-Token", spec.TraceToken)
	set("Client-Info", spec.ClientInfo)
	set("Client-Tags", strings.Join(spec.ClientTags, ","))
	set("Transaction-Id", spec.TransactionID)
	addPairs(h, prefix+"Session", spec.Session, true)
	addPairs(h, prefix+"Role", spec.Roles, true)
	addPairs(h, prefix+"Prepared-Statement", spec.PreparedStmts, true)
	addPairs(h, prefix+"Extra-Credential", spec.ExtraCredentials, true)
	addPairs(h, prefix+"Resource-Estimate", spec.ResourceEstimate, false)
	return h
}

// addPairs adds one name=value header per entry of m, sorted by name; names and values are
// URL-encoded when encode is set.
func addPairs(h http.Header, name string, m map[string]string, encode bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if encode {
			k, v = url.QueryEscape(k), url.QueryEscape(v)
		}
		h.Add(name, k+"="+v)
	}
}

// checkHeaders rejects values net/http would refuse to send (control characters), so that
// they fail as an invalid spec and not as an unreachable coordinator.
func checkHeaders(h http.Header) error {
	for k, vs := range h {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if b := v[i]; (b < 0x20 && b != '\t') || b == 0x7f {
					return fmt.Errorf("%w: header %s has a control character", ErrInvalidSpec, k)
				}
			}
		}
	}
	return nil
}
