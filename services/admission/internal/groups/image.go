package groups

import "time"

// QueryImage is a queued or running query as an image of the tree keeps it.
type QueryImage struct {
	ID       string    `json:"id"`
	GroupID  []string  `json:"groupId"`
	Template []string  `json:"template"`
	Priority int64     `json:"priority,omitempty"`
	Memory   int64     `json:"memory,omitempty"`
	QueuedAt time.Time `json:"queuedAt,omitzero"`
	Running  bool      `json:"running,omitempty"`
}

// CPUImage is the CPU usage charged to one group's quota.
type CPUImage struct {
	GroupID  []string      `json:"groupId"`
	Template []string      `json:"template"`
	Usage    time.Duration `json:"usage"`
}

// Image is what a tree holds, without the configuration: enough to rebuild an equivalent
// tree under the configuration in force when it is loaded. Running queries come first,
// then the queued ones in arrival order, so that every leaf queue is rebuilt in its order.
//
// What an image does not keep: the turn of fair sub-group queues (round-robin restarts in
// arrival order) and the lottery's random state. Groups without queries or CPU usage are
// not materialized again.
type Image struct {
	Queries     []QueryImage `json:"queries"`
	CPU         []CPUImage   `json:"cpu,omitempty"`
	LastRegen   time.Time    `json:"lastRegen,omitzero"`
	FleetMemory int64        `json:"fleetMemory,omitempty"`
}

// Image returns the tree's content. The image shares the group IDs of the tree (they never
// change); it may be encoded after the caller released the tree.
func (t *Tree) Image() Image {
	img := Image{Queries: make([]QueryImage, 0, len(t.queries)), LastRegen: t.lastRegen, FleetMemory: t.fleetMemory}
	// A group's ID never changes once materialized, so the image shares it; the template
	// path is built once per group.
	templates := map[*Group][]string{}
	image := func(q *Query) QueryImage {
		tmpl, ok := templates[q.leaf]
		if !ok {
			tmpl = templatePath(q.leaf)
			templates[q.leaf] = tmpl
		}
		return QueryImage{ID: q.ID, GroupID: q.leaf.id, Template: tmpl, Priority: q.Priority,
			Memory: q.Memory, QueuedAt: q.QueuedAt, Running: q.running}
	}
	for _, q := range t.queries {
		if q.running {
			img.Queries = append(img.Queries, image(q))
		}
	}
	t.arrivals.each(func(q *Query) bool {
		img.Queries = append(img.Queries, image(q))
		return true
	})
	t.walk(func(g *Group) {
		if g.cpuUsage > 0 {
			img.CPU = append(img.CPU, CPUImage{GroupID: g.Path(), Template: templatePath(g), Usage: g.cpuUsage})
		}
	})
	return img
}

// LoadImage puts an image's queries and CPU usage into the tree. Queries the tree already
// holds are left as they are.
func (t *Tree) LoadImage(img Image) {
	for _, qi := range img.Queries {
		q := &Query{ID: qi.ID, Priority: qi.Priority, Memory: qi.Memory, QueuedAt: qi.QueuedAt}
		leaf := t.materialize(qi.GroupID, qi.Template)
		if qi.Running {
			t.Start(q, leaf)
		} else {
			t.Enqueue(q, leaf)
		}
	}
	for _, c := range img.CPU {
		g := t.materialize(c.GroupID, c.Template)
		g.cpuUsage = c.Usage
		g.updateEligibility()
	}
	if img.LastRegen.After(t.lastRegen) {
		t.lastRegen = img.LastRegen
	}
	if t.fleetMemory == 0 {
		t.fleetMemory = img.FleetMemory
	}
}
