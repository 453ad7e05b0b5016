package testcoordinator

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// Errors returned by the control methods.
var (
	// ErrUnknownQuery: no query has that ID.
	ErrUnknownQuery = errors.New("testcoordinator: unknown query")
	// ErrNotHeld: Release was called for a query that is not held.
	ErrNotHeld = errors.New("testcoordinator: query is not held")
)

// Options configure a Coordinator. The zero value is a Trino coordinator without
// password authentication.
type Options struct {
	// Flavor is events.ProtocolTrino (the default) or events.ProtocolPresto: the header
	// prefix, URL shapes, first state, the PUT dispatch path and the documents served.
	Flavor events.Protocol
	// Version is nodeVersion.version in /v1/info (default "476", or "0.293" for Presto).
	Version string
	// Environment is the environment in /v1/info (default "test").
	Environment string
	// CoordinatorID is the last part of the query IDs it mints ([a-z0-9]+; default random).
	CoordinatorID string
	// BasicAuth, when set, maps user to password: requests must authenticate with Basic
	// auth, as with password authentication on the coordinator.
	BasicAuth map[string]string
	// CanImpersonate decides whether an authenticated principal may run queries as another
	// user (the X-Trino-User header). Nil allows everything. It is consulted only with
	// BasicAuth.
	CanImpersonate func(principal, user string) bool
	// Clock defaults to the real time.
	Clock Clock
	// MaxWait caps long polls (default 1s, as the engines do).
	MaxWait time.Duration
	// PageRows is the number of rows per data page (default 1000).
	PageRows int
	// ActiveWorkers is reported by /v1/cluster (default 1).
	ActiveWorkers int
	// Processors is totalAvailableProcessors in Trino's /v1/cluster (default 8).
	Processors int
	// NoClusterStats makes /v1/cluster answer 404, as current Trino releases do.
	NoClusterStats bool
	// Unavailable starts the coordinator answering 503 to everything (see SetUnavailable).
	Unavailable bool
	// Starting starts the coordinator in its starting state (see SetStarting).
	Starting bool
}

// Coordinator is the fake coordinator. It is safe for concurrent use.
type Coordinator struct {
	opts     Options
	clock    Clock
	notifier clockNotifier
	prefix   string
	started  time.Time
	mux      *http.ServeMux

	mu        sync.Mutex
	changed   chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	scripts   map[string]Result
	queries   map[string]*query
	order     []string
	counter   int
	requests  []Request
	failNext  int
	// failSubmissions counts the statement submissions still to answer 503.
	failSubmissions int
	unavailable     bool
	starting        bool
}

// New returns a coordinator configured by opts.
func New(opts Options) *Coordinator {
	if opts.Flavor == "" {
		opts.Flavor = events.ProtocolTrino
	}
	if opts.Version == "" {
		opts.Version = "476"
		if opts.Flavor == events.ProtocolPresto {
			opts.Version = "0.293"
		}
	}
	if opts.Environment == "" {
		opts.Environment = "test"
	}
	if opts.CoordinatorID == "" {
		opts.CoordinatorID = randomID(5)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Second
	}
	if opts.PageRows <= 0 {
		opts.PageRows = 1000
	}
	if opts.ActiveWorkers == 0 {
		opts.ActiveWorkers = 1
	}
	if opts.Processors == 0 {
		opts.Processors = 8
	}
	c := &Coordinator{
		opts:        opts,
		clock:       opts.Clock,
		prefix:      "X-Trino-",
		changed:     make(chan struct{}),
		closed:      make(chan struct{}),
		scripts:     map[string]Result{},
		queries:     map[string]*query{},
		unavailable: opts.Unavailable,
		starting:    opts.Starting,
	}
	if opts.Flavor == events.ProtocolPresto {
		c.prefix = "X-Presto-"
	}
	c.notifier, _ = opts.Clock.(clockNotifier)
	c.started = c.clock.Now()
	c.mux = c.routes()
	return c
}

// Handler returns the coordinator's HTTP handler. URLs it mints are absolute, built from
// the Host of each request.
func (c *Coordinator) Handler() http.Handler { return http.HandlerFunc(c.serveHTTP) }

// Start serves the coordinator on a local port and returns its base URL and a function that
// stops it. Stopping ends pending long polls.
func (c *Coordinator) Start() (url string, stop func()) {
	srv := httptest.NewServer(c.Handler())
	return srv.URL, func() {
		c.Close()
		srv.Close()
	}
}

// Close ends pending long polls; later polls answer at once. Start's stop function calls it.
func (c *Coordinator) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
}

// Flavor returns the coordinator's flavor.
func (c *Coordinator) Flavor() events.Protocol { return c.opts.Flavor }

// Script registers the result of a SQL text. The text is matched after trimming white
// space and one trailing semicolon; a script replaces the built-in SQL subset for that text.
// It applies to queries registered (POST or PUT) after the call.
func (c *Coordinator) Script(sql string, r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scripts[normalizeSQL(sql)] = r
}

// Release ends a hold of query id: a query held QUEUED starts running (and stays RUNNING if
// its script also has Hold, until the next Release), a query held RUNNING completes as soon
// as its Duration has elapsed. It returns ErrUnknownQuery or ErrNotHeld.
func (c *Coordinator) Release(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queries[id]
	if q == nil {
		return ErrUnknownQuery
	}
	now := c.clock.Now()
	c.advance(q, now)
	switch {
	case q.phase == phaseQueued && q.holdQueued:
		q.holdQueued = false
		c.start(q, now)
	case q.phase == phaseRegistered && q.result.HoldQueued && !q.releasedQueued:
		// Not submitted yet: the queue hold is waived when it is.
		q.releasedQueued = true
	case q.phase == phaseRunning && q.hold:
		q.hold = false
		q.releasedAt = now
		c.advance(q, now)
	case q.phase == phaseRegistered && q.result.Hold && !q.releasedRun:
		q.releasedRun = true
	default:
		return ErrNotHeld
	}
	c.notifyLocked()
	return nil
}

// FailNext makes the next n requests, whatever their path, answer 503.
func (c *Coordinator) FailNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = n
}

// FailSubmissions makes the next n statement submissions (POST /v1/statement, Presto's PUT)
// answer 503 while every other request is served, as a coordinator behind a load balancer
// that drops some requests, or one failing to create queries, does.
func (c *Coordinator) FailSubmissions(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failSubmissions = n
}

// SetUnavailable makes every request answer 503 while on is true.
func (c *Coordinator) SetUnavailable(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unavailable = on
	c.notifyLocked()
}

// SetStarting sets the starting flag of /v1/info. While it is set, queries submitted fail
// with SERVER_STARTING_UP, as on a coordinator that has not finished starting.
func (c *Coordinator) SetStarting(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starting = on
}

// notifyLocked wakes every long poll; c.mu must be held.
func (c *Coordinator) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait blocks until a state change, the clock moves, d passes, the request ends or the
// coordinator closes. ch is c.changed read under the lock before the state was checked.
func (c *Coordinator) wait(r *http.Request, ch <-chan struct{}, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var clockCh <-chan struct{}
	if c.notifier != nil {
		clockCh = c.notifier.Changed()
	}
	select {
	case <-ch:
	case <-clockCh:
	case <-t.C:
	case <-r.Context().Done():
	case <-c.closed:
	}
}

// maxWait is the long-poll limit of a request: Options.MaxWait, lowered by ?maxWait=.
func (c *Coordinator) maxWait(r *http.Request) time.Duration {
	d := c.opts.MaxWait
	if v := r.URL.Query().Get("maxWait"); v != "" {
		if w, err := protocol.ParseDuration(v); err == nil && w < d {
			d = w
		}
	}
	return d
}

// randomID returns n random characters of [a-z0-9].
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
