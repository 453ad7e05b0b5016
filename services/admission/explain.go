package admission

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
)

// Explanations are reads, not decisions: every replica answers them from its fold (a
// standby's fold is as current as the leader's log), over NATS request/reply in one queue
// group. Nothing is stored.

// QueryExplanation answers SubjectAdmissionExplainQuery.
type QueryExplanation struct {
	QueryID string `json:"queryId"`
	// State is PENDING (no verdict yet), QUEUED, RUNNING or UNKNOWN (ended, or never seen).
	State  string `json:"state"`
	Group  string `json:"group,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// GroupExplanation answers SubjectAdmissionExplainGroup: the group, or with an empty
// request every root group.
type GroupExplanation struct {
	Groups []groups.GroupInfo `json:"groups"`
	// Error is set when the group does not exist.
	Error string `json:"error,omitempty"`
}

func (s *service) serveExplain(nc *nats.Conn) (micro.Service, error) {
	m, err := micro.AddService(nc, micro.Config{Name: "sluice-admission", Version: "1.0.0",
		Description: "explains resource groups and queued queries", QueueGroup: "sluice-admission"})
	if err != nil {
		return nil, err
	}
	if err := m.AddEndpoint("explain-group", micro.HandlerFunc(s.explainGroup), micro.WithEndpointSubject(events.SubjectAdmissionExplainGroup)); err != nil {
		return nil, err
	}
	if err := m.AddEndpoint("explain-query", micro.HandlerFunc(s.explainQuery), micro.WithEndpointSubject(events.SubjectAdmissionExplainQuery)); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseGroupID accepts Presto's URL form (segments separated by "/") and the dotted form.
func ParseGroupID(s string) []string {
	s = strings.Trim(s, "/")
	if s == "" {
		return nil
	}
	if strings.Contains(s, "/") {
		return strings.Split(s, "/")
	}
	return strings.Split(s, ".")
}

func (s *service) explainGroup(req micro.Request) {
	id := ParseGroupID(string(req.Data()))
	now := time.Now()
	var out GroupExplanation
	s.mu.Lock()
	if s.st == nil {
		out.Error = "admission is starting"
	} else if len(id) == 0 {
		out.Groups = s.st.Tree.RootInfos(now)
	} else if g, ok := s.st.Tree.Group(id); ok {
		out.Groups = []groups.GroupInfo{s.st.Tree.Info(g, now)}
	} else {
		out.Error = "resource group " + strings.Join(id, ".") + " does not exist (or holds no query yet)"
	}
	s.mu.Unlock()
	b, _ := json.Marshal(out)
	_ = req.Respond(b)
}

func (s *service) explainQuery(req micro.Request) {
	id := string(req.Data())
	now := time.Now()
	out := QueryExplanation{QueryID: id, State: "UNKNOWN"}
	s.mu.Lock()
	if s.st != nil {
		if q, ok := s.st.Tree.Lookup(id); ok {
			out.Group = q.Group()
			if q.Running() {
				out.State = "RUNNING"
			} else {
				out.State = "QUEUED"
				out.Reason = s.st.Tree.Reason(id, now)
			}
		} else if e, ok := s.st.Entry(id); ok && e.CancelRequested {
			out.State, out.Reason = "PENDING", "cancel requested"
		} else if ok {
			out.State, out.Reason = "PENDING", "waiting for the admission leader's verdict"
		}
	}
	s.mu.Unlock()
	b, _ := json.Marshal(out)
	_ = req.Respond(b)
}
