package executorproxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/fragexec"
)

// TestIntermediateDiskReserve: fragments run while the intermediate results stored on the
// executor use less than the disk reserved for them, and then fail retriably with an
// error that names the reserve; "" is the default reserve and "0" none.
func TestIntermediateDiskReserve(t *testing.T) {
	for v, want := range map[string]int64{"": defaultIntermediateDisk, "0": 0, "2kB": 2 << 10, "1GB": 1 << 30} {
		if got, err := intermediateDisk(v); err != nil || got != want {
			t.Errorf("intermediateDisk(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	if _, err := intermediateDisk("lots"); err == nil || !strings.Contains(err.Error(), "SLUICE_INTERMEDIATE_DISK") {
		t.Errorf("a bad size was accepted or not named: %v", err)
	}

	dir := t.TempDir()
	store, err := fragexec.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &planExecutor{x: &executor{cfg: Config{Cluster: "local-1"}}, store: store, disk: 2 << 10}
	if qe := p.checkDisk(); qe != nil {
		t.Fatalf("an empty store was refused: %v", qe)
	}
	path, err := store.Path("q1", "f1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, 3<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	qe := p.checkDisk()
	if qe == nil || qe.ErrorName != protocol.GenericInsufficientResources.Name || !strings.Contains(qe.Message, "use 3kB of the 2kB reserved") {
		t.Fatalf("a store over its reserve: %+v", qe)
	}
	p.disk = 0
	if qe := p.checkDisk(); qe != nil {
		t.Errorf("no reserve, yet refused: %v", qe)
	}
}

// TestMissingInputsAreNamed: a parent whose child's output is gone (its executor's disk
// is not shared, and no object-store copy exists) names that child, so that the scheduler
// reruns it; inputs that exist are passed by path.
func TestMissingInputsAreNamed(t *testing.T) {
	store, err := fragexec.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &planExecutor{x: &executor{cfg: Config{Cluster: "local-2"}}, store: store}
	here := filepath.Join(t.TempDir(), "f2.parquet")
	if err := os.WriteFile(here, []byte("PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	frag := events.Fragment{Query: events.QuerySpec{ID: "q1"}, FragmentID: "f0", Inputs: []events.FragmentOutput{
		{Fragment: "f1", Cluster: "local-1", Path: "/nonexistent/local-1/q1/f1.parquet"},
		{Fragment: "f2", Cluster: "local-2", Path: here},
	}}
	in, missing := p.inputs(t.Context(), frag)
	if !slices.Equal(missing, []string{"f1"}) || in["f2"] != here || len(in) != 1 {
		t.Errorf("inputs = %v, missing %v; want f2 at %s and f1 missing", in, missing, here)
	}
}
