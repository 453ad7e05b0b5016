// Package clientsession parses the identity and session headers of a statement POST, in either
// header family (X-Trino-* or X-Presto-*), into an events.QuerySpec.
package clientsession

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/events"
)

// Errors returned by Parse; each becomes an HTTP 400 with the message, as a coordinator
// answers malformed headers.
var (
	// ErrMixedFamilies: the request carries both X-Trino-* and X-Presto-* headers.
	ErrMixedFamilies = errors.New("both Trino and Presto headers detected")
	// ErrNoUser: no user header.
	ErrNoUser = errors.New("user must be set")
	// ErrBadHeader: a header value is malformed.
	ErrBadHeader = errors.New("invalid header")
)

// Family returns the header prefix of the request ("X-Trino-" or "X-Presto-") and its
// protocol; a request without any family header is treated as Trino.
func Family(h http.Header) (events.Protocol, string, error) {
	trino, presto := false, false
	for k := range h {
		ck := http.CanonicalHeaderKey(k)
		if strings.HasPrefix(ck, "X-Trino-") {
			trino = true
		}
		if strings.HasPrefix(ck, "X-Presto-") {
			presto = true
		}
	}
	switch {
	case trino && presto:
		return "", "", ErrMixedFamilies
	case presto:
		return events.ProtocolPresto, "X-Presto-", nil
	default:
		return events.ProtocolTrino, "X-Trino-", nil
	}
}

// Message is the text a coordinator answers for a header error: err's text, capitalized.
func Message(err error) string {
	s := err.Error()
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// Prefix returns the header prefix of a protocol.
func Prefix(p events.Protocol) string {
	if p == events.ProtocolPresto {
		return "X-Presto-"
	}
	return "X-Trino-"
}

// Parse builds the spec of a query from its POST headers. id and sql are filled by the caller.
func Parse(h http.Header) (events.QuerySpec, error) {
	proto, p, err := Family(h)
	if err != nil {
		return events.QuerySpec{}, err
	}
	spec := events.QuerySpec{
		Protocol:     proto,
		User:         h.Get(p + "User"),
		OriginalUser: h.Get(p + "Original-User"),
		Source:       h.Get(p + "Source"),
		Catalog:      h.Get(p + "Catalog"),
		Schema:       h.Get(p + "Schema"),
		Path:         h.Get(p + "Path"),
		TimeZone:     h.Get(p + "Time-Zone"),
		Language:     h.Get(p + "Language"),
		TraceToken:   h.Get(p + "Trace-Token"),
		ClientInfo:   h.Get(p + "Client-Info"),
		RoutingGroup: h.Get(p + "Routing-Group"),
	}
	if spec.User == "" {
		if u, _, ok := basicUser(h); ok {
			spec.User = u
		}
	}
	if spec.User == "" {
		return spec, ErrNoUser
	}
	if tx := h.Get(p + "Transaction-Id"); tx != "" && !strings.EqualFold(tx, "NONE") {
		spec.TransactionID = tx
	}
	for _, v := range h.Values(p + "Client-Tags") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				spec.ClientTags = append(spec.ClientTags, t)
			}
		}
	}
	if spec.Session, err = pairs(h, p+"Session", true); err != nil {
		return spec, err
	}
	if spec.Roles, err = pairs(h, p+"Role", true); err != nil {
		return spec, err
	}
	if spec.PreparedStmts, err = pairs(h, p+"Prepared-Statement", true); err != nil {
		return spec, err
	}
	if spec.ExtraCredentials, err = pairs(h, p+"Extra-Credential", true); err != nil {
		return spec, err
	}
	if spec.ResourceEstimate, err = pairs(h, p+"Resource-Estimate", false); err != nil {
		return spec, err
	}
	return spec, nil
}

// pairs parses comma-separated name=value pairs from every value of header name. Values
// (and names when decodeNames) are URL-decoded.
func pairs(h http.Header, name string, decode bool) (map[string]string, error) {
	var out map[string]string
	for _, v := range h.Values(name) {
		for _, kv := range strings.Split(v, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("%w: %s: %q is not name=value", ErrBadHeader, name, kv)
			}
			val = strings.TrimSpace(val)
			if decode {
				dk, err1 := url.QueryUnescape(k)
				dv, err2 := url.QueryUnescape(val)
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("%w: %s: %q is not URL-encoded", ErrBadHeader, name, kv)
				}
				k, val = dk, dv
			}
			if out == nil {
				out = map[string]string{}
			}
			out[k] = val
		}
	}
	return out, nil
}

func basicUser(h http.Header) (string, string, bool) {
	r := http.Request{Header: h}
	return r.BasicAuth()
}
