package testcoordinator

import (
	"net/http"

	"github.com/sluicehq/sluice/events"
)

// trinoClusterStats is Trino's ClusterStats document.
type trinoClusterStats struct {
	RunningQueries           int64   `json:"runningQueries"`
	BlockedQueries           int64   `json:"blockedQueries"`
	QueuedQueries            int64   `json:"queuedQueries"`
	ActiveCoordinators       int64   `json:"activeCoordinators"`
	ActiveWorkers            int64   `json:"activeWorkers"`
	RunningDrivers           int64   `json:"runningDrivers"`
	TotalAvailableProcessors int64   `json:"totalAvailableProcessors"`
	ReservedMemory           float64 `json:"reservedMemory"`
	TotalInputRows           int64   `json:"totalInputRows"`
	TotalInputBytes          int64   `json:"totalInputBytes"`
	TotalCPUTimeSecs         int64   `json:"totalCpuTimeSecs"`
}

// prestoClusterStats is Presto's ClusterStats document.
type prestoClusterStats struct {
	RunningQueries   int64   `json:"runningQueries"`
	BlockedQueries   int64   `json:"blockedQueries"`
	QueuedQueries    int64   `json:"queuedQueries"`
	ActiveWorkers    int64   `json:"activeWorkers"`
	RunningDrivers   int64   `json:"runningDrivers"`
	ReservedMemory   float64 `json:"reservedMemory"`
	TotalInputRows   int64   `json:"totalInputRows"`
	TotalInputBytes  int64   `json:"totalInputBytes"`
	TotalCPUTimeSecs int64   `json:"totalCpuTimeSecs"`
}

// serverInfo is the /v1/info document of both engines.
type serverInfo struct {
	NodeVersion struct {
		Version string `json:"version"`
	} `json:"nodeVersion"`
	Environment string `json:"environment"`
	Coordinator bool   `json:"coordinator"`
	Starting    bool   `json:"starting"`
	Uptime      string `json:"uptime"`
}

// handleCluster serves GET /v1/cluster, counting submitted queries the way the engines'
// ClusterStatsResource does: QUEUED queries are queued, RUNNING ones running or blocked,
// and memory, rows, bytes and CPU are summed over queries not done (inputs and CPU also
// over the ones that ended).
func (c *Coordinator) handleCluster(w http.ResponseWriter, r *http.Request) {
	if c.opts.NoClusterStats {
		writeText(w, http.StatusNotFound, "Error 404 Not Found: HTTP 404 Not Found")
		return
	}
	if c.opts.BasicAuth != nil {
		if _, ok := c.authenticate(w, r, false); !ok {
			return
		}
	}
	var s trinoClusterStats
	c.mu.Lock()
	now := c.clock.Now()
	for _, q := range c.queries {
		c.advance(q, now)
		switch {
		case q.phase == phaseQueued:
			s.QueuedQueries++
		case q.blocked():
			s.BlockedQueries++
		case q.phase == phaseRunning:
			s.RunningQueries++
			s.RunningDrivers++
		}
		s.ReservedMemory += float64(q.reservedMemory())
		s.TotalInputRows += q.processedRows()
		s.TotalInputBytes += q.processedBytes()
		s.TotalCPUTimeSecs += int64(q.cpuTime().Seconds())
	}
	c.mu.Unlock()
	s.ActiveCoordinators = 1
	s.ActiveWorkers = int64(c.opts.ActiveWorkers)
	s.TotalAvailableProcessors = int64(c.opts.Processors)
	if c.opts.Flavor == events.ProtocolPresto {
		writeJSON(w, prestoClusterStats{
			RunningQueries: s.RunningQueries, BlockedQueries: s.BlockedQueries, QueuedQueries: s.QueuedQueries,
			ActiveWorkers: s.ActiveWorkers, RunningDrivers: s.RunningDrivers, ReservedMemory: s.ReservedMemory,
			TotalInputRows: s.TotalInputRows, TotalInputBytes: s.TotalInputBytes, TotalCPUTimeSecs: s.TotalCPUTimeSecs,
		})
		return
	}
	writeJSON(w, s)
}

// handleInfo serves GET /v1/info; it is public.
func (c *Coordinator) handleInfo(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	var info serverInfo
	info.NodeVersion.Version = c.opts.Version
	info.Environment = c.opts.Environment
	info.Coordinator = true
	info.Starting = c.starting
	info.Uptime = formatDuration(c.clock.Now().Sub(c.started))
	c.mu.Unlock()
	writeJSON(w, info)
}
