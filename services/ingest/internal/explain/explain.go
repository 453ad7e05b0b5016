// Package explain asks the admission replicas why a query waits and what state a resource
// group is in (NATS request/reply; any replica answers from its fold). Answers about a query
// are cached briefly, because every queued poll shows one.
package explain

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
)

// ErrUnavailable: no admission replica answered in time.
var ErrUnavailable = errors.New("explain: admission did not answer")

// Query is admission's answer about one query.
type Query struct {
	QueryID string `json:"queryId"`
	State   string `json:"state"`
	Group   string `json:"group,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Groups is admission's answer about a group: its ResourceGroupInfo as raw JSON, so that
// ingest passes it through unchanged.
type Groups struct {
	Groups []json.RawMessage `json:"groups"`
	Error  string            `json:"error,omitempty"`
}

// Client asks admission.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
	ttl     time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	q  Query
	at time.Time
}

// New returns a client; timeout bounds each request, ttl is how long a query's answer is
// reused.
func New(nc *nats.Conn, timeout, ttl time.Duration) *Client {
	return &Client{nc: nc, timeout: timeout, ttl: ttl, cache: map[string]cached{}}
}

// Query explains a query.
func (c *Client) Query(ctx context.Context, id string) (Query, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.cache[id]; ok && now.Sub(e.at) < c.ttl {
		c.mu.Unlock()
		return e.q, nil
	}
	if len(c.cache) > 100000 {
		for k, e := range c.cache {
			if now.Sub(e.at) >= c.ttl {
				delete(c.cache, k)
			}
		}
	}
	c.mu.Unlock()
	var q Query
	if err := c.request(ctx, events.SubjectAdmissionExplainQuery, []byte(id), &q); err != nil {
		return Query{}, err
	}
	c.mu.Lock()
	c.cache[id] = cached{q: q, at: now}
	c.mu.Unlock()
	return q, nil
}

// Group returns the state of a group (its ID dotted or slash-separated; empty for every
// root group).
func (c *Client) Group(ctx context.Context, id string) (Groups, error) {
	var g Groups
	err := c.request(ctx, events.SubjectAdmissionExplainGroup, []byte(id), &g)
	return g, err
}

func (c *Client) request(ctx context.Context, subject string, data []byte, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	return json.Unmarshal(msg.Data, v)
}
