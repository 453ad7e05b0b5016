package substraitsql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// sharedDir finds the shared test data: $SLUICE_SHARED_DIR, or a "shared" directory
// with data/tpch next to the working directory or one of its parents.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SLUICE_SHARED_DIR"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for {
		for _, cand := range []string{filepath.Join(dir, "shared"), filepath.Join(dir, "..", "shared")} {
			if _, err := os.Stat(filepath.Join(cand, "data", "tpch")); err == nil {
				return cand
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatal("shared/ not found (set SLUICE_SHARED_DIR)")
	return ""
}

// tpchQueries are the TPC-H queries Isthmus has plans for (all but q15).
var tpchQueries = []string{"q01", "q02", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10", "q11",
	"q12", "q13", "q14", "q16", "q17", "q18", "q19", "q20", "q21", "q22"}

func loadPlan(t testing.TB, name string) *substraitpb.Plan {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "data", "tpch", "substrait", "isthmus", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// tinyTables maps Isthmus's table names to the tpch.tiny schema.
func tinyTables(names []string) (string, error) {
	if len(names) != 1 {
		return "", os.ErrNotExist
	}
	return "tpch.tiny." + strings.ToLower(names[0]), nil
}
