package rgspec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and, when they parse, selects with a few
// inputs. Nothing may panic, errors must be *ValidationError, and selections must be
// well formed.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(cfgJSON(leaf, `{"group": "g"}`)))
	f.Add([]byte(cfgJSON(`{"name": "${x}", "maxQueued": 1, "hardConcurrencyLimit": 1}`, `{"user": "(?<x>a*)", "group": "${x}"}`)))
	f.Add([]byte(`{"rootGroups": [{"name": "a.b", "maxQueued": -1}], "selectors": [{"group": "a..b"}]}`))
	f.Add([]byte(`{"rootGroups": [`))
	f.Add([]byte(`[]`))

	inputs := []Input{
		{User: "alice"},
		{User: "bob", Source: "tableau", QueryType: "SELECT", ClientTags: []string{"hipri", "urgent"}},
		{User: "a.b", OriginalUser: "c", AuthenticatedUser: "d", Source: "airflow", QueryType: "INSERT",
			UserGroups: []string{"admin", "ops"}, ClientInfo: "team=x", Principal: "p", Schema: "s", QueryText: "SELECT 1",
			ResourceEstimate: map[string]string{"EXECUTION_TIME": "5m", "CPU_TIME": "1h", "PEAK_MEMORY": "1GB"}},
		{},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %T %v is not a non-empty *ValidationError", err, err)
			}
			return
		}
		for _, in := range inputs {
			sel, ok := cfg.Select(in)
			if !ok {
				continue
			}
			if len(sel.ID) == 0 || len(sel.ID) != len(sel.Specs) || !sel.Specs[len(sel.Specs)-1].IsLeaf() {
				t.Fatalf("malformed selection %+v", sel)
			}
			for _, seg := range sel.ID {
				if seg == "" {
					t.Fatalf("empty segment in %q", sel.ID)
				}
			}
		}
	})
}
