package groups

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Reason explains why a queued query has not started: the first group on its path, from the
// leaf up, that cannot run more, or else what it waits behind. "" for a running query.
func (t *Tree) Reason(id string, now time.Time) string {
	q, ok := t.queries[id]
	if !ok || q.running {
		return ""
	}
	for g := q.leaf; g != nil; g = g.parent {
		if r := g.blockedText(); r != "" {
			return r
		}
	}
	ahead := 0
	if f, ok := q.leaf.queued.(*fifo[*Query]); ok {
		f.each(func(o *Query) bool {
			if o == q {
				return false
			}
			ahead++
			return true
		})
	} else {
		q.leaf.queued.each(func(o *Query) bool {
			if o != q && (o.Priority > q.Priority || (o.Priority == q.Priority && o.QueuedAt.Before(q.QueuedAt))) {
				ahead++
			}
			return true
		})
	}
	var b strings.Builder
	if ahead > 0 {
		fmt.Fprintf(&b, "%s: %d queued ahead (%s)", q.leaf.ID(), ahead, policyName(q.leaf))
	} else {
		fmt.Fprintf(&b, "%s: next in its group; waiting for its turn among sibling groups", q.leaf.ID())
	}
	if age := t.opts.StarvationAge; age > 0 && now.Sub(q.QueuedAt) >= age {
		fmt.Fprintf(&b, "; queued longer than %s (starvation guard)", age)
	}
	return b.String()
}

// WhyWait explains why a new query for leaf would have to wait (Decide said VerdictQueue).
func (t *Tree) WhyWait(leaf *Group) string {
	for g := leaf; g != nil; g = g.parent {
		if r := g.blockedText(); r != "" {
			return r
		}
	}
	return fmt.Sprintf("%s: %d queued ahead (%s)", leaf.ID(), leaf.queued.len(), policyName(leaf))
}

func policyName(g *Group) string { return string(g.policy) }

// blockedText describes why g cannot run more, e.g. "global.adhoc.alice: 3/3 running
// (hardConcurrencyLimit)", or "" when it can.
func (g *Group) blockedText() string {
	switch g.blocked() {
	case blockedCPU:
		return fmt.Sprintf("%s: CPU usage %s reached hardCpuLimit %s", g.ID(), g.cpuUsage.Round(time.Second), g.spec.HardCPULimit)
	case blockedConcurrency:
		hard, eff := g.spec.HardConcurrencyLimit, g.effectiveHardConcurrency()
		if eff < hard {
			return fmt.Sprintf("%s: %d/%d running (hardConcurrencyLimit %d reduced by CPU usage %s over softCpuLimit %s)",
				g.ID(), g.runningTotal(), eff, hard, g.cpuUsage.Round(time.Second), g.spec.SoftCPULimit)
		}
		return fmt.Sprintf("%s: %d/%d running (hardConcurrencyLimit)", g.ID(), g.runningTotal(), hard)
	case blockedMemory:
		return fmt.Sprintf("%s: memory %s over softMemoryLimit %s", g.ID(), protocol.FormatDataSize(g.memoryUsage), protocol.FormatDataSize(g.softMemoryLimit()))
	}
	return ""
}

// GroupInfo is the JSON shape of Presto's and Trino's ResourceGroupInfo
// (GET /v1/resourceGroupState/{group}), with fleet-wide counts.
type GroupInfo struct {
	ID                   []string         `json:"id"`
	State                string           `json:"state"`
	SchedulingPolicy     string           `json:"schedulingPolicy"`
	SchedulingWeight     int              `json:"schedulingWeight"`
	SoftMemoryLimit      string           `json:"softMemoryLimit"`
	SoftConcurrencyLimit int              `json:"softConcurrencyLimit"`
	HardConcurrencyLimit int              `json:"hardConcurrencyLimit"`
	MaxQueuedQueries     int              `json:"maxQueuedQueries"`
	MemoryUsage          string           `json:"memoryUsage"`
	CPUUsage             string           `json:"cpuUsage"`
	NumQueuedQueries     int              `json:"numQueuedQueries"`
	NumRunningQueries    int              `json:"numRunningQueries"`
	NumEligibleSubGroups int              `json:"numEligibleSubGroups"`
	SubGroups            []GroupInfo      `json:"subGroups,omitempty"`
	RunningQueries       []QueryStateInfo `json:"runningQueries,omitempty"`
	// Sluice extensions.
	Disabled               bool    `json:"sluiceDisabled,omitempty"`
	EffectiveHardLimit     int     `json:"sluiceEffectiveHardConcurrencyLimit"`
	BlockedReason          string  `json:"sluiceBlockedReason,omitempty"`
	OldestQueuedAgeSeconds float64 `json:"sluiceOldestQueuedAgeSeconds,omitempty"`
}

// QueryStateInfo is a running query in GroupInfo.
type QueryStateInfo struct {
	QueryID         string   `json:"queryId"`
	QueryState      string   `json:"queryState"`
	ResourceGroupID []string `json:"resourceGroupId"`
}

// Info describes g and, one level down, its sub-groups (as Trino's full info does).
func (t *Tree) Info(g *Group, now time.Time) GroupInfo {
	info := g.summary(now)
	for _, c := range g.childOrder {
		info.SubGroups = append(info.SubGroups, c.summary(now))
	}
	for q := range g.running {
		info.RunningQueries = append(info.RunningQueries, QueryStateInfo{QueryID: q.ID, QueryState: "RUNNING", ResourceGroupID: g.id})
	}
	return info
}

// RootInfos summarises every root group.
func (t *Tree) RootInfos(now time.Time) []GroupInfo {
	out := make([]GroupInfo, 0, len(t.rootOrder))
	for _, r := range t.rootOrder {
		out = append(out, r.summary(now))
	}
	return out
}

func (g *Group) summary(now time.Time) GroupInfo {
	state := "CAN_RUN"
	if !g.canRunMore() {
		state = "CAN_QUEUE"
		if !g.canQueueMore() {
			state = "FULL"
		}
	}
	mem := "unlimited"
	if l := g.softMemoryLimit(); l < 1<<62 {
		mem = protocol.FormatDataSize(l)
	}
	info := GroupInfo{
		ID: g.id, State: state, SchedulingPolicy: strings.ToUpper(string(g.policy)), SchedulingWeight: g.spec.SchedulingWeight,
		SoftMemoryLimit: mem, SoftConcurrencyLimit: g.spec.SoftConcurrencyLimit, HardConcurrencyLimit: g.spec.HardConcurrencyLimit,
		MaxQueuedQueries: g.spec.MaxQueued, MemoryUsage: protocol.FormatDataSize(g.memoryUsage), CPUUsage: g.cpuUsage.String(),
		NumQueuedQueries: g.queuedTotal(), NumRunningQueries: g.runningTotal(), NumEligibleSubGroups: g.eligible.len(),
		Disabled: g.disabled, EffectiveHardLimit: g.effectiveHardConcurrency(), BlockedReason: g.blockedText(),
	}
	var oldest time.Time
	var visit func(c *Group)
	visit = func(c *Group) {
		c.queued.each(func(q *Query) bool {
			if oldest.IsZero() || q.QueuedAt.Before(oldest) {
				oldest = q.QueuedAt
			}
			return true
		})
		for _, cc := range c.childOrder {
			visit(cc)
		}
	}
	if g.queuedTotal() > 0 {
		visit(g)
		info.OldestQueuedAgeSeconds = now.Sub(oldest).Seconds()
	}
	return info
}
