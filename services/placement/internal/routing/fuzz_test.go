package routing

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseRules feeds arbitrary bytes to Parse and, when they parse, selects with a few
// inputs. Nothing may panic, errors must be non-empty *ValidationErrors, and every
// selection must come from the header, a rule or the default group.
func FuzzParseRules(f *testing.F) {
	if data, err := os.ReadFile("testdata/rules.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"defaultGroup": "a", "rules": [{"user": "(a|b)*", "group": "g"}]}`))
	f.Add([]byte(`{"rules": [{"user": "(", "source": "", "queryType": "x", "clientTags": [""]}]}`))
	f.Add([]byte(`{"rules": [{"name": "n", "group": "g"}, {"name": "n", "group": "h"}]}`))
	f.Add([]byte(`{"rules": [`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))

	inputs := []Input{
		{},
		{User: "etl_x", Source: "airflow", ClientTags: []string{"etl", "batch"}, QueryType: "INSERT"},
		{User: "a", Source: "b", QueryType: "select"},
		{HeaderGroup: "h", User: "root"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 || c != nil {
				t.Fatalf("Parse returned %v, %T %v; want nil and a non-empty *ValidationError", c, err, err)
			}
			return
		}
		for _, r := range c.Rules {
			if r.Group == "" || r.Name == "" {
				t.Fatalf("rule without a group or name: %+v", r)
			}
		}
		for _, in := range inputs {
			res := c.Select(in)
			switch res.Via {
			case ViaHeader:
				if res.Group != in.HeaderGroup {
					t.Fatalf("header result %+v for %+v", res, in)
				}
			case ViaRule:
				if res.Group == "" || res.Rule == "" {
					t.Fatalf("rule result %+v", res)
				}
			case ViaDefault:
				if res.Group != c.DefaultGroup {
					t.Fatalf("default result %+v, default group %q", res, c.DefaultGroup)
				}
			default:
				t.Fatalf("result %+v has no decider", res)
			}
		}
	})
}
