package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"
)

// LoadSource says where Load got its numbers.
type LoadSource int

// Load sources.
const (
	// LoadSourceUnspecified is the zero value.
	LoadSourceUnspecified LoadSource = iota
	// LoadSourceClusterStats: GET /v1/cluster.
	LoadSourceClusterStats
	// LoadSourceQueryList: /v1/cluster is missing (current Trino); the states of
	// GET /v1/query were counted.
	LoadSourceQueryList
)

// String names the source.
func (s LoadSource) String() string {
	switch s {
	case LoadSourceClusterStats:
		return "cluster-stats"
	case LoadSourceQueryList:
		return "query-list"
	}
	return "unspecified"
}

// Info is the coordinator's /v1/info.
type Info struct {
	Version     string
	Environment string
	Coordinator bool
	// Starting is true until the coordinator accepts queries.
	Starting bool
	Uptime   time.Duration
}

// Load is how busy the cluster is.
type Load struct {
	Info Info
	// Running, Blocked and Queued count the queries not done. From cluster stats they are
	// the engine's own counters (QUEUED and RUNNING queries only). From the query list,
	// queries waiting for prerequisites or resources count as queued, and queries
	// dispatching, planning, starting or finishing count as running.
	Running int
	Blocked int
	Queued  int
	// ActiveWorkers is -1 when unknown (query-list source).
	ActiveWorkers int
	// ReservedMemoryBytes is the user memory held by the queries not done.
	ReservedMemoryBytes int64
	Source              LoadSource
}

// infoWire is the /v1/info document.
type infoWire struct {
	NodeVersion struct {
		Version string `json:"version"`
	} `json:"nodeVersion"`
	Environment string `json:"environment"`
	Coordinator bool   `json:"coordinator"`
	Starting    bool   `json:"starting"`
	Uptime      string `json:"uptime"`
}

// clusterWire is the subset of ClusterStats (Trino and Presto) the client reads.
type clusterWire struct {
	RunningQueries int64   `json:"runningQueries"`
	BlockedQueries int64   `json:"blockedQueries"`
	QueuedQueries  int64   `json:"queuedQueries"`
	ActiveWorkers  int64   `json:"activeWorkers"`
	ReservedMemory float64 `json:"reservedMemory"`
}

// Info reads GET /v1/info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	a, err := c.control(ctx, "info", http.MethodGet, c.base+"/v1/info")
	if err != nil {
		return Info{}, err
	}
	var w infoWire
	if err := json.Unmarshal(a.body, &w); err != nil {
		return Info{}, &Error{Op: "info", Kind: ErrUnavailable, StatusCode: a.status, Body: snippet(a.body), Err: err}
	}
	return Info{
		Version: w.NodeVersion.Version, Environment: w.Environment, Coordinator: w.Coordinator,
		Starting: w.Starting, Uptime: durationOrZero(w.Uptime),
	}, nil
}

// Load reads /v1/info and then /v1/cluster, or, when /v1/cluster is 404, counts the states
// of GET /v1/query.
func (c *Client) Load(ctx context.Context) (Load, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return Load{}, err
	}
	a, err := c.control(ctx, "load", http.MethodGet, c.base+"/v1/cluster")
	var ce *Error
	if errors.As(err, &ce) && ce.StatusCode == http.StatusNotFound {
		l, err := c.loadFromQueries(ctx)
		l.Info = info
		return l, err
	}
	if err != nil {
		return Load{}, err
	}
	var w clusterWire
	if err := json.Unmarshal(a.body, &w); err != nil {
		return Load{}, &Error{Op: "load", Kind: ErrUnavailable, StatusCode: a.status, Body: snippet(a.body), Err: err}
	}
	return Load{
		Info: info, Running: int(w.RunningQueries), Blocked: int(w.BlockedQueries), Queued: int(w.QueuedQueries),
		ActiveWorkers: int(w.ActiveWorkers), ReservedMemoryBytes: bytesOf(w.ReservedMemory), Source: LoadSourceClusterStats,
	}, nil
}

// loadFromQueries counts the states of GET /v1/query.
func (c *Client) loadFromQueries(ctx context.Context) (Load, error) {
	a, err := c.control(ctx, "load", http.MethodGet, c.base+"/v1/query")
	if err != nil {
		return Load{}, err
	}
	var infos []queryInfoWire
	if err := json.Unmarshal(a.body, &infos); err != nil {
		return Load{}, &Error{Op: "load", Kind: ErrUnavailable, StatusCode: a.status, Body: snippet(a.body), Err: err}
	}
	l := Load{ActiveWorkers: -1, Source: LoadSourceQueryList}
	for i := range infos {
		q := &infos[i]
		switch {
		case q.State.Done():
			continue
		case q.State.waiting():
			l.Queued++
		case q.State == StateRunning && q.QueryStats.FullyBlocked:
			l.Blocked++
		default:
			l.Running++
		}
		l.ReservedMemoryBytes += dataSizeOrZero(q.QueryStats.UserMemoryReservation)
	}
	return l, nil
}

// bytesOf converts the engines' double byte count, clamped to int64.
func bytesOf(v float64) int64 {
	switch {
	case math.IsNaN(v) || v <= 0:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v)
}
