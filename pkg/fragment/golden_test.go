package fragment

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGoldenDAGs compares DAG renderings with testdata/<name>.golden. Regenerate
// them with: go test ./internal/fragment -run TestGoldenDAGs -update
func TestGoldenDAGs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, q    string
		partitions map[string]int
	}{
		{"q01", "q01", nil},
		{"q03", "q03", nil},
		{"q06", "q06", nil},
		{"q13", "q13", nil},
		{"q18", "q18", nil},
		{"q20", "q20", nil},
		{"q01_lineitem4", "q01", map[string]int{"lineitem": 4}},
		{"q06_lineitem4", "q06", map[string]int{"lineitem": 4}},
		{"q18_lineitem4", "q18", map[string]int{"lineitem": 4}},
	}
	for _, c := range cases {
		got := cut(t, c.q, c.partitions).String()
		path := filepath.Join("testdata", c.name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s (run with -update to accept):\n%s", c.name, path, got)
		}
	}
}
