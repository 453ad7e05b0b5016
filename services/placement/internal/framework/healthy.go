package framework

import (
	"encoding/json"
	"time"
)

// DefaultHeartbeatTimeout is the heartbeat age past which Healthy rules a cluster out
// when no timeout is configured.
const DefaultHeartbeatTimeout = 3 * time.Second

var statusNoHeartbeat = NewStatus(Unschedulable, "no heartbeat")

// Healthy filters out clusters that are not alive: a state other than ready or draining
// (starting, unhealthy, drained, deactivated, anything unknown), or a heartbeat older than
// the timeout at the decision time. Draining clusters pass: they are healthy, and
// NotDraining is the filter that keeps new queries off them.
type Healthy struct {
	timeout time.Duration
}

var _ FilterPlugin = (*Healthy)(nil)

// HealthyArgs are the arguments of Healthy in a profile's pluginArgs.
type HealthyArgs struct {
	// HeartbeatTimeout is the heartbeat age past which a cluster is filtered out
	// (default DefaultHeartbeatTimeout); it must be positive.
	HeartbeatTimeout *Duration `json:"heartbeatTimeout,omitempty"`
}

// NewHealthy returns the Healthy filter with the given heartbeat timeout; 0 or less means
// DefaultHeartbeatTimeout.
func NewHealthy(timeout time.Duration) *Healthy {
	if timeout <= 0 {
		timeout = DefaultHeartbeatTimeout
	}
	return &Healthy{timeout: timeout}
}

func newHealthyFromArgs(args json.RawMessage) (Plugin, error) {
	var a struct {
		HeartbeatTimeout json.RawMessage `json:"heartbeatTimeout"`
	}
	if len(args) > 0 && string(args) != "null" {
		if err := decodeStrict(args, &a); err != nil {
			return nil, err
		}
	}
	if len(a.HeartbeatTimeout) == 0 || string(a.HeartbeatTimeout) == "null" {
		return NewHealthy(0), nil
	}
	var d Duration
	if err := d.UnmarshalJSON(a.HeartbeatTimeout); err != nil {
		return nil, FieldError{Path: "heartbeatTimeout", Message: err.Error()}
	}
	if d <= 0 {
		return nil, FieldError{Path: "heartbeatTimeout", Message: "must be positive"}
	}
	return NewHealthy(time.Duration(d)), nil
}

// Name returns "Healthy".
func (*Healthy) Name() string { return NameHealthy }

// Timeout returns the heartbeat timeout.
func (h *Healthy) Timeout() time.Duration { return h.timeout }

// Filter rules c out unless it is ready or draining with a fresh heartbeat.
func (h *Healthy) Filter(cs *CycleState, _ *Query, c *Cluster) *Status {
	if c.State != StateReady && c.State != StateDraining {
		return stateStatus(c.State)
	}
	if c.LastHeartbeat.IsZero() {
		return statusNoHeartbeat
	}
	if !c.LastHeartbeat.Before(cs.Now.Add(-h.timeout)) {
		return nil
	}
	return staleStatuses.get([2]time.Duration{roundAge(cs.Now.Sub(c.LastHeartbeat)), h.timeout}, newStaleStatus)
}

// staleStatuses caches the statuses of stale heartbeats by rounded age and timeout.
var staleStatuses statusCache[[2]time.Duration]

func newStaleStatus(k [2]time.Duration) *Status {
	return NewStatus(Unschedulable, "heartbeat "+formatAge(k[0])+" old (timeout "+k[1].String()+")")
}
