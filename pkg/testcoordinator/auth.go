package testcoordinator

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/events"
)

// identity is who a request is from.
type identity struct {
	principal string // authenticated Basic user ("" without BasicAuth)
	user      string // session user: the User header, else the Basic user
}

// authenticate applies the coordinator's authentication to r. needUser says the endpoint
// needs a session user (Trino's AUTHENTICATED_USER; for Presto, the statement POST/PUT).
// It writes the error answer and returns false when the request is refused.
func (c *Coordinator) authenticate(w http.ResponseWriter, r *http.Request, needUser bool) (identity, bool) {
	headerUser := r.Header.Get(c.prefix + "User")
	basicUser, password, hasBasic := r.BasicAuth()
	realm := `Basic realm="` + c.engineName() + `"`

	if c.opts.BasicAuth != nil {
		want, known := c.opts.BasicAuth[basicUser]
		switch {
		case !hasBasic:
			w.Header().Set("WWW-Authenticate", realm)
			writeText(w, http.StatusUnauthorized, "Unauthorized")
			return identity{}, false
		case !known || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1:
			w.Header().Set("WWW-Authenticate", realm)
			writeText(w, http.StatusUnauthorized, "Access Denied: Invalid credentials")
			return identity{}, false
		}
		id := identity{principal: basicUser, user: headerUser}
		if id.user == "" {
			id.user = basicUser
		}
		return id, true
	}

	if c.opts.Flavor == events.ProtocolPresto {
		// Presto without an authenticator ignores Authorization; the session needs the header.
		return identity{user: headerUser}, true
	}
	if hasBasic && password != "" {
		w.Header().Set("WWW-Authenticate", realm)
		writeText(w, http.StatusUnauthorized, "Password not allowed for insecure authentication")
		return identity{}, false
	}
	id := identity{user: headerUser}
	if id.user == "" && hasBasic {
		id.user = basicUser
	}
	if id.user == "" {
		id.user = r.Header.Get(c.prefix + "Original-User")
	}
	if needUser && id.user == "" {
		w.Header().Set("WWW-Authenticate", realm)
		writeText(w, http.StatusUnauthorized, "Basic authentication or "+c.prefix+"Original-User or "+c.prefix+"User must be sent")
		return identity{}, false
	}
	return id, true
}

// pollAuth authenticates a queued or executing poll: public on Trino (the slug is the
// capability), authenticated on Presto when BasicAuth is configured.
func (c *Coordinator) pollAuth(w http.ResponseWriter, r *http.Request) bool {
	if c.opts.Flavor != events.ProtocolPresto || c.opts.BasicAuth == nil {
		return true
	}
	_, ok := c.authenticate(w, r, false)
	return ok
}

// familyHeaders returns the headers of r without the other family's X-Trino-* or
// X-Presto-* headers, which the coordinator ignores.
func (c *Coordinator) familyHeaders(h http.Header) http.Header {
	other := "X-Presto-"
	if c.opts.Flavor == events.ProtocolPresto {
		other = "X-Trino-"
	}
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), other) {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
