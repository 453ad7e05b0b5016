// Package shareddata locates the team's shared test data (shared/data/tpch: the TPC-H
// queries and their Isthmus Substrait plans) for tests and benchmarks.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// TPCHPlans are the TPC-H queries Isthmus has plans for (Isthmus fails on q15).
var TPCHPlans = []string{"q01", "q02", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10", "q11",
	"q12", "q13", "q14", "q16", "q17", "q18", "q19", "q20", "q21", "q22"}

// Dir finds the shared directory: $SLUICE_SHARED_DIR, or a "shared" directory holding
// data/tpch next to the working directory or one of its parents. It fails tb when there
// is none.
func Dir(tb testing.TB) string {
	tb.Helper()
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
	tb.Fatal("shared/ not found (set SLUICE_SHARED_DIR)")
	return ""
}

// TPCH reads a file under shared/data/tpch.
func TPCH(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{Dir(tb), "data", "tpch"}, parts...)...))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// IsthmusPlan reads the Isthmus JSON plan of a TPC-H query ("q01").
func IsthmusPlan(tb testing.TB, query string) []byte {
	tb.Helper()
	return TPCH(tb, "substrait", "isthmus", query+".json")
}
