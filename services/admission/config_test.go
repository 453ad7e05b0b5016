package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func groupsJSON(hard int) string {
	return fmt.Sprintf(`{"rootGroups":[{"name":"global","maxQueued":10,"hardConcurrencyLimit":%d}],"selectors":[{"group":"global"}]}`, hard)
}

// explainGroup asks the running replicas for a group's state (an empty answer when no
// replica answers yet).
func explainGroup(t *testing.T, h *harness, id string) GroupExplanation {
	t.Helper()
	msg, err := h.conn.NC.Request(events.SubjectAdmissionExplainGroup, []byte(id), 2*time.Second)
	if err != nil {
		return GroupExplanation{Error: err.Error()}
	}
	var out GroupExplanation
	if err := json.Unmarshal(msg.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfigLifecycle: the file is published to the bucket and applied; an invalid file is
// logged with the path and field and the last good configuration stays in force; a valid
// change applies live; a replica started with only an invalid file refuses to start.
func TestConfigLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.DefaultTopology())
	file := filepath.Join(t.TempDir(), "groups.json")
	if err := os.WriteFile(file, []byte(groupsJSON(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	topo := h.topo
	go func() {
		done <- Run(ctx, Config{Server: h.ns, ResourceGroupsFile: file, ConfigPoll: 20 * time.Millisecond, LeaseRenew: 100 * time.Millisecond,
			Identity: "cfg", Logger: slog.New(slog.NewTextHandler(logs, nil)), Topology: &topo})
	}()
	t.Cleanup(func() { cancel(); <-done })
	kv, err := h.conn.JS.KeyValue(t.Context(), events.BucketConfig)
	if err != nil {
		t.Fatal(err)
	}
	inBucket := func() string {
		e, err := kv.Get(t.Context(), events.KeyResourceGroups)
		if err != nil {
			return ""
		}
		return string(e.Value())
	}
	natstest.Eventually(t, 5*time.Second, "the file published to the bucket", func() bool { return inBucket() == groupsJSON(1) })
	h.submit(qid(0)) // materializes the group
	natstest.Eventually(t, 5*time.Second, "the group in force", func() bool {
		g := explainGroup(t, h, "global")
		return g.Error == "" && len(g.Groups) == 1 && g.Groups[0].HardConcurrencyLimit == 1
	})

	bad := `{"rootGroups":[{"name":"global","maxQueued":10,"hardConcurrencyLimit":1,"subGroups":[{"name":"x","maxQueued":1,"hardConcurrencyLimit":-1}]}],"selectors":[{"group":"global.x"}]}`
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the invalid file reported with its path", func() bool {
		return strings.Contains(logs.String(), "rootGroups[0].subGroups[0].hardConcurrencyLimit: must be >= 0")
	})
	if got := inBucket(); got != groupsJSON(1) {
		t.Fatalf("an invalid file reached the bucket: %s", got)
	}
	if g := explainGroup(t, h, "global"); len(g.Groups) != 1 || g.Groups[0].HardConcurrencyLimit != 1 {
		t.Fatalf("limit %d after an invalid file, want the last good 1", g.Groups[0].HardConcurrencyLimit)
	}

	if err := os.WriteFile(file, []byte(groupsJSON(3)), 0o644); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the valid change applied live", func() bool {
		g := explainGroup(t, h, "global")
		return len(g.Groups) == 1 && g.Groups[0].HardConcurrencyLimit == 3
	})

	// A replica with only an invalid file and no good configuration anywhere stops.
	h2 := newHarness(t, events.DefaultTopology())
	badFile := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Run(t.Context(), Config{Server: h2.ns, ResourceGroupsFile: badFile, Logger: slog.New(slog.DiscardHandler), Topology: &topo})
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "hardConcurrencyLimit: must be >= 0") || !strings.Contains(err.Error(), badFile) {
		t.Fatalf("start with an invalid file: %v, want ErrNoConfig naming the file and field", err)
	}
}
