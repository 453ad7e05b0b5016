package framework

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHealthy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		cluster *Cluster
		want    string
	}{
		{"ready and fresh", 0, ready("a"), ""},
		{"draining passes", 0, ready("a", func(c *Cluster) { c.State = StateDraining }), ""},
		{"starting", 0, ready("a", func(c *Cluster) { c.State = StateStarting }), "Unschedulable: state starting"},
		{"unhealthy", 0, ready("a", func(c *Cluster) { c.State = StateUnhealthy }), "Unschedulable: state unhealthy"},
		{"drained", 0, ready("a", func(c *Cluster) { c.State = StateDrained }), "Unschedulable: state drained"},
		{"deactivated", 0, ready("a", func(c *Cluster) { c.State = StateDeactivated }), "Unschedulable: state deactivated"},
		{"no state", 0, ready("a", func(c *Cluster) { c.State = "" }), "Unschedulable: no state reported"},
		{"unknown state", 0, ready("a", func(c *Cluster) { c.State = "paused" }), "Unschedulable: state paused"},
		{"never reported", 0, ready("a", func(c *Cluster) { c.LastHeartbeat = time.Time{} }), "Unschedulable: no heartbeat"},
		{"exactly at the default timeout", 0, ready("a", func(c *Cluster) { c.LastHeartbeat = t0.Add(-3 * time.Second) }), ""},
		{"past the default timeout", 0, ready("a", func(c *Cluster) { c.LastHeartbeat = t0.Add(-4200 * time.Millisecond) }),
			"Unschedulable: heartbeat 4.2s old (timeout 3s)"},
		{"within a longer timeout", 10 * time.Second, ready("a", func(c *Cluster) { c.LastHeartbeat = t0.Add(-9 * time.Second) }), ""},
		{"past a shorter timeout", 500 * time.Millisecond, ready("a", func(c *Cluster) { c.LastHeartbeat = t0.Add(-501 * time.Millisecond) }),
			"Unschedulable: heartbeat 501ms old (timeout 500ms)"},
		{"heartbeat from the future", 0, ready("a", func(c *Cluster) { c.LastHeartbeat = t0.Add(time.Minute) }), ""},
		{"state checked before heartbeat", 0, ready("a", func(c *Cluster) { c.State = StateStarting; c.LastHeartbeat = time.Time{} }),
			"Unschedulable: state starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := statusReason(NewHealthy(tt.timeout).Filter(&CycleState{Now: t0}, sqlQuery(), tt.cluster))
			if got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHealthyArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args        string
		wantTimeout time.Duration
		wantErr     string
	}{
		{"", DefaultHeartbeatTimeout, ""},
		{"{}", DefaultHeartbeatTimeout, ""},
		{"null", DefaultHeartbeatTimeout, ""},
		{"[]", 0, "expected an object, got array"},
		{`{"heartbeatTimeout": "750ms"}`, 750 * time.Millisecond, ""},
		{`{"heartbeatTimeout": "0s"}`, 0, "heartbeatTimeout: must be positive"},
		{`{"heartbeatTimeout": null}`, DefaultHeartbeatTimeout, ""},
		{`{"heartbeatTimeout": 3}`, 0, `heartbeatTimeout: must be a duration string such as "3s"`},
		{`{"heartbeatTimeout": "soon"}`, 0, `heartbeatTimeout: must be a duration string such as "3s": time: invalid duration "soon"`},
		{`{"heartbeatTimeout": "1s"} {}`, 0, `invalid JSON: data after the top-level value`},
		{`{"timeout": "1s"}`, 0, `unknown field "timeout"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			t.Parallel()
			p, err := newHealthyFromArgs(json.RawMessage(tt.args))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.(*Healthy).Timeout(); got != tt.wantTimeout {
				t.Errorf("timeout = %v, want %v", got, tt.wantTimeout)
			}
		})
	}
}
