package coordinator

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/events"
)

// Credentials is how a dispatched query authenticates to the coordinator.
type Credentials int

// Credentials modes.
const (
	// CredentialsUnspecified is the zero value; New treats it as CredentialsForward.
	CredentialsUnspecified Credentials = iota
	// CredentialsForward sends the user's own Authorization (WithAuthorization) and
	// extra credentials.
	CredentialsForward
	// CredentialsImpersonate authenticates as the service user with Basic auth and names
	// the end user in X-Trino-User (X-Presto-User); the coordinator must allow it.
	CredentialsImpersonate
)

// String names the mode.
func (c Credentials) String() string {
	switch c {
	case CredentialsForward:
		return "forward"
	case CredentialsImpersonate:
		return "impersonate"
	}
	return "unspecified"
}

// defaultServiceUser is the user of control requests when none is configured.
const defaultServiceUser = "sluice"

// maxBody bounds the answers read (QueryInfo documents of big queries can be large).
const maxBody = 64 << 20

// Client talks to one coordinator. It is safe for concurrent use.
type Client struct {
	base        string
	flavor      events.Protocol
	prefix      string
	hc          *http.Client
	creds       Credentials
	serviceUser string
	servicePass string
	submit      bool
	slugKey     []byte
	userAgent   string
}

// Option configures a Client.
type Option func(*Client) error

// New returns a client of the coordinator at baseURL (http or https, without a path).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an http(s) URL", ErrInvalidOption, baseURL)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("%w: base URL %q has a path or query", ErrInvalidOption, baseURL)
	}
	c := &Client{
		base:        u.Scheme + "://" + u.Host,
		flavor:      events.ProtocolTrino,
		hc:          http.DefaultClient,
		creds:       CredentialsForward,
		serviceUser: defaultServiceUser,
		userAgent:   "sluice-executorproxy",
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	c.prefix = "X-Trino-"
	if c.flavor == events.ProtocolPresto {
		c.prefix = "X-Presto-"
	}
	if c.slugKey == nil {
		c.slugKey = make([]byte, 32)
		if _, err := rand.Read(c.slugKey); err != nil {
			return nil, fmt.Errorf("slug key: %w", err)
		}
	}
	// Never follow redirects: they would carry the user's credentials to another host.
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	return c, nil
}

// WithFlavor selects events.ProtocolTrino (the default) or events.ProtocolPresto.
func WithFlavor(f events.Protocol) Option {
	return func(c *Client) error {
		if f != events.ProtocolTrino && f != events.ProtocolPresto {
			return fmt.Errorf("%w: flavor %q", ErrInvalidOption, f)
		}
		c.flavor = f
		return nil
	}
}

// WithHTTPClient sets the HTTP client (default http.DefaultClient). The client is copied
// and never follows redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return fmt.Errorf("%w: nil HTTP client", ErrInvalidOption)
		}
		c.hc = hc
		return nil
	}
}

// WithForwardedCredentials selects CredentialsForward (the default).
func WithForwardedCredentials() Option {
	return func(c *Client) error {
		c.creds = CredentialsForward
		return nil
	}
}

// WithImpersonation selects CredentialsImpersonate: queries authenticate as user with Basic
// auth and run as the spec's user. user is also the service identity of control requests.
func WithImpersonation(user, password string) Option {
	return func(c *Client) error {
		if user == "" || strings.ContainsAny(user, ":") {
			return fmt.Errorf("%w: impersonation user %q", ErrInvalidOption, user)
		}
		c.creds = CredentialsImpersonate
		c.serviceUser, c.servicePass = user, password
		return nil
	}
}

// WithServiceUser sets the identity of Status, Cancel, Load and Info (default "sluice",
// without a password). A non-empty password is sent with Basic auth.
func WithServiceUser(user, password string) Option {
	return func(c *Client) error {
		if user == "" || strings.ContainsAny(user, ":") {
			return fmt.Errorf("%w: service user %q", ErrInvalidOption, user)
		}
		c.serviceUser, c.servicePass = user, password
		return nil
	}
}

// WithSubmit makes Dispatch on Trino also poll the first nextUri, as the client would. The
// coordinator then creates the query at once, so it shows in Status and Load, and a query
// that fails on submission fails Dispatch. Handle.NextURI is then the URL after that poll.
// Presto is never polled, because its first poll can carry result rows that the client
// would lose.
func WithSubmit(on bool) Option {
	return func(c *Client) error {
		c.submit = on
		return nil
	}
}

// WithSlugSecret sets the key from which Presto slugs are derived (HMAC of the query ID),
// so that every executor-proxy sharing it sends the same slug for a query and a repeated
// PUT is answered instead of refused. The default is a random key per Client.
func WithSlugSecret(secret []byte) Option {
	return func(c *Client) error {
		if len(secret) < 16 {
			return fmt.Errorf("%w: slug secret shorter than 16 bytes", ErrInvalidOption)
		}
		c.slugKey = append([]byte(nil), secret...)
		return nil
	}
}

// WithUserAgent sets the User-Agent of every request (default "sluice-executorproxy").
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// Flavor returns the coordinator's flavor.
func (c *Client) Flavor() events.Protocol { return c.flavor }

// BaseURL returns the coordinator's base URL.
func (c *Client) BaseURL() string { return c.base }

// answer is a read HTTP answer.
type answer struct {
	status int
	body   []byte
}

// send performs req and reads the answer. A transport error is an *Error of kind
// ErrUnavailable for op, unless ctx ended, in which case it is ctx's error.
func (c *Client) send(ctx context.Context, op string, req *http.Request) (answer, error) {
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		return answer{}, &Error{Op: op, Kind: ErrUnavailable, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		return answer{}, &Error{Op: op, Kind: ErrUnavailable, StatusCode: resp.StatusCode, Err: err}
	}
	return answer{status: resp.StatusCode, body: body}, nil
}

// control sends a request with the service identity and returns the answer of a 2xx, or an
// *Error classified by statusKind.
func (c *Client) control(ctx context.Context, op, method, target string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return answer{}, &Error{Op: op, Kind: ErrRejected, Err: err}
	}
	req.Header.Set(c.prefix+"User", c.serviceUser)
	if c.servicePass != "" {
		req.SetBasicAuth(c.serviceUser, c.servicePass)
	}
	a, err := c.send(ctx, op, req)
	if err != nil {
		return a, err
	}
	if a.status < 200 || a.status > 299 {
		return a, &Error{Op: op, Kind: statusKind(a.status), StatusCode: a.status, Body: snippet(a.body)}
	}
	return a, nil
}

// snippet is the start of a body for error messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody] + "…"
	}
	return s
}
