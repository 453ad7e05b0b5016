package coordinator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// Handle identifies a dispatched query on the coordinator.
type Handle struct {
	// QueryID is the coordinator's query ID: Sluice's on Presto, a new one on Trino.
	QueryID string
	// SluiceID is the ID of the spec.
	SluiceID string
	// NextURI is the absolute URL to hand the client ("" if the query already ended).
	NextURI string
	// InfoURI is the coordinator's page for the query.
	InfoURI string
}

// DispatchOption adjusts one Dispatch.
type DispatchOption func(*dispatchConfig)

type dispatchConfig struct {
	authorization string
}

// WithAuthorization sends value as the Authorization header of the dispatch in forward
// mode (the user's own credentials, as received). It is ignored in impersonate mode.
func WithAuthorization(value string) DispatchOption {
	return func(d *dispatchConfig) { d.authorization = value }
}

// cancelTimeout bounds the best-effort cancel after a failed submit poll.
const cancelTimeout = 5 * time.Second

// Dispatch hands spec to the coordinator: POST /v1/statement on Trino, PUT
// /v1/statement/{spec.ID}?slug= on Presto, with every session header of spec. It returns the
// coordinator's query ID and first QueryResults. Errors are *Error: ErrUnavailable (the query
// did not start; retry elsewhere), ErrQueryFailed (with the engine's QueryError when there is
// one), ErrAlreadyExists (Presto 409), or ErrInvalidSpec.
func (c *Client) Dispatch(ctx context.Context, spec events.QuerySpec, opts ...DispatchOption) (Handle, *protocol.QueryResults, error) {
	var cfg dispatchConfig
	for _, o := range opts {
		o(&cfg)
	}
	req, err := c.dispatchRequest(ctx, spec, cfg)
	if err != nil {
		return Handle{}, nil, err
	}
	a, err := c.send(ctx, "dispatch", req)
	if err != nil {
		return Handle{}, nil, err
	}
	res, err := decodeResults("dispatch", a)
	if err != nil {
		return Handle{}, res, err
	}
	if c.flavor == events.ProtocolPresto && res.ID != spec.ID {
		return Handle{}, res, &Error{Op: "dispatch", Kind: ErrUnavailable, StatusCode: a.status,
			Err: fmt.Errorf("coordinator answered query %q for PUT of %q", res.ID, spec.ID)}
	}
	h := Handle{QueryID: res.ID, SluiceID: spec.ID, NextURI: res.NextURI, InfoURI: res.InfoURI}
	if c.submit && c.flavor == events.ProtocolTrino && res.NextURI != "" {
		return c.submitPoll(ctx, h)
	}
	return h, res, nil
}

// dispatchRequest builds the POST or PUT of spec.
func (c *Client) dispatchRequest(ctx context.Context, spec events.QuerySpec, cfg dispatchConfig) (*http.Request, error) {
	if spec.SQL == "" {
		return nil, fmt.Errorf("%w: empty SQL", ErrInvalidSpec)
	}
	if spec.User == "" {
		return nil, fmt.Errorf("%w: no user", ErrInvalidSpec)
	}
	method, target := http.MethodPost, c.base+"/v1/statement"
	if c.flavor == events.ProtocolPresto {
		if !validQueryID(spec.ID) {
			return nil, fmt.Errorf("%w: query ID %q is not [_a-z0-9]+", ErrInvalidSpec, spec.ID)
		}
		method = http.MethodPut
		target = c.base + "/v1/statement/" + spec.ID + "?slug=" + url.QueryEscape(c.slug(spec.ID))
	}
	h := sessionHeaders(c.prefix, c.flavor, spec)
	switch {
	case c.creds == CredentialsImpersonate:
		h.Set("Authorization", basicAuth(c.serviceUser, c.servicePass))
	case cfg.authorization != "":
		h.Set("Authorization", cfg.authorization)
	}
	if err := checkHeaders(h); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(spec.SQL))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return req, nil
}

// submitPoll GETs the first nextUri of a Trino query so the coordinator creates it. If the
// poll fails for a reason other than the query, the query is canceled (best effort) and
// the dispatch reported unavailable.
func (c *Client) submitPoll(ctx context.Context, h Handle) (Handle, *protocol.QueryResults, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.NextURI, nil)
	if err != nil {
		return h, nil, &Error{Op: "submit", Kind: ErrUnavailable, Err: err}
	}
	a, err := c.send(ctx, "submit", req)
	if err == nil {
		var res *protocol.QueryResults
		// A decoded answer, with or without a QueryResults error, is the query's outcome.
		if res, err = decodeResults("submit", a); res != nil {
			h.NextURI, h.InfoURI = res.NextURI, firstNonEmpty(res.InfoURI, h.InfoURI)
			return h, res, err
		}
	}
	c.abandon(ctx, h.NextURI)
	var ce *Error
	if errors.As(err, &ce) {
		ce.Kind = ErrUnavailable // a poll that did not answer is not the query's failure
	}
	return h, nil, err
}

// abandon deletes a queued URL, best effort, so a query whose submit poll failed does not run.
func (c *Client) abandon(ctx context.Context, uri string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, uri, nil)
	if err != nil {
		return
	}
	_, _ = c.send(ctx, "cancel", req)
}

// decodeResults turns a dispatch or poll answer into QueryResults, classifying failures.
func decodeResults(op string, a answer) (*protocol.QueryResults, error) {
	if a.status != http.StatusOK {
		return nil, &Error{Op: op, Kind: dispatchKind(a.status), StatusCode: a.status, Body: snippet(a.body)}
	}
	var res protocol.QueryResults
	if err := json.Unmarshal(a.body, &res); err != nil || res.ID == "" {
		if err == nil {
			err = errors.New("answer has no query id")
		}
		return nil, &Error{Op: op, Kind: ErrUnavailable, StatusCode: a.status, Body: snippet(a.body), Err: err}
	}
	if res.Error != nil {
		return &res, &Error{Op: op, Kind: ErrQueryFailed, StatusCode: a.status, Query: res.Error}
	}
	return &res, nil
}

// slug derives the Presto slug of a query ID: "x" and 32 hex characters of HMAC-SHA256.
func (c *Client) slug(id string) string {
	m := hmac.New(sha256.New, c.slugKey)
	m.Write([]byte(id))
	return "x" + hex.EncodeToString(m.Sum(nil))[:32]
}

// validQueryID reports whether id matches [_a-z0-9]+, the engines' QueryId check.
func validQueryID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if ch != '_' && (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') {
			return false
		}
	}
	return true
}

// basicAuth is the value of a Basic Authorization header.
func basicAuth(user, password string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
