package testcoordinator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/events"
)

// maxBody bounds a request body (Trino's query.max-length is 1,000,000 characters).
const maxBody = 4 << 20

// routes registers the endpoints of the coordinator's flavor.
func (c *Coordinator) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/statement", c.handlePost)
	if c.opts.Flavor == events.ProtocolPresto {
		m.HandleFunc("PUT /v1/statement/{queryId}", c.handlePut)
		m.HandleFunc("GET /v1/statement/queued/{queryId}/{token}", c.handleQueued)
		m.HandleFunc("DELETE /v1/statement/queued/{queryId}/{token}", c.handleQueuedDelete)
		m.HandleFunc("GET /v1/statement/executing/{queryId}/{token}", c.handleExecuting)
		m.HandleFunc("DELETE /v1/statement/executing/{queryId}/{token}", c.handleExecutingDelete)
	} else {
		m.HandleFunc("GET /v1/statement/queued/{queryId}/{slug}/{token}", c.handleQueued)
		m.HandleFunc("DELETE /v1/statement/queued/{queryId}/{slug}/{token}", c.handleQueuedDelete)
		m.HandleFunc("GET /v1/statement/executing/{queryId}/{slug}/{token}", c.handleExecuting)
		m.HandleFunc("DELETE /v1/statement/executing/{queryId}/{slug}/{token}", c.handleExecutingDelete)
	}
	m.HandleFunc("GET /v1/query", c.handleQueryList)
	m.HandleFunc("GET /v1/query/{queryId}", c.handleQueryInfo)
	m.HandleFunc("DELETE /v1/query/{queryId}", c.handleQueryDelete)
	m.HandleFunc("PUT /v1/query/{queryId}/killed", c.handleQueryKill)
	m.HandleFunc("GET /v1/cluster", c.handleCluster)
	m.HandleFunc("GET /v1/info", c.handleInfo)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(m, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeText(w, http.StatusMethodNotAllowed, "Error 405 Method Not Allowed: HTTP 405 Method Not Allowed")
			return
		}
		writeText(w, http.StatusNotFound, "Error 404 Not Found: HTTP 404 Not Found")
	})
	return m
}

// allowedMethods lists the methods m serves on r's path, so that a known path with another
// method gets 405, as JAX-RS answers (HEAD /v1/statement among them, as before Trino 469).
func allowedMethods(m *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.Handler(probe); pattern != "/" {
			allow = append(allow, method)
		}
	}
	return allow
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// serveHTTP records the request, applies the 503 toggles and routes it.
func (c *Coordinator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeText(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	c.mu.Lock()
	fail := c.unavailable || c.failNext > 0
	if c.failNext > 0 {
		c.failNext--
	}
	if isSubmission(r) && c.failSubmissions > 0 {
		fail = true
		c.failSubmissions--
	}
	idx := len(c.requests)
	c.requests = append(c.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
		Body: string(body), At: c.clock.Now(),
	})
	c.mu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	if fail {
		writeText(sw, http.StatusServiceUnavailable, "Service Unavailable")
	} else {
		c.mux.ServeHTTP(sw, r)
	}
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	c.mu.Lock()
	c.requests[idx].Status = sw.status
	c.mu.Unlock()
}

// isSubmission reports whether r submits a statement (Trino's POST, Presto's PUT).
func isSubmission(r *http.Request) bool {
	return (r.Method == http.MethodPost && r.URL.Path == "/v1/statement") ||
		(r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/statement/") && !strings.Contains(strings.TrimPrefix(r.URL.Path, "/v1/statement/"), "/"))
}

// baseURL is the scheme and host the request reached, for absolute URLs.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSONBytes(w, b)
}

// writeJSONBytes writes an encoded JSON document with status 200.
func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeText writes a text/plain answer, as JAX-RS does for WebApplicationException.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
