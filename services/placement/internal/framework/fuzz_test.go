package framework

import (
	"errors"
	"testing"
)

// FuzzParseConfig feeds arbitrary bytes to ParseConfig and places a query with every
// profile that parses. Nothing may panic, errors must be non-empty *ValidationErrors, and
// a chosen cluster must be one that passed the filters.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"profiles": [{"name": "default", "filters": ["Healthy", "Capacity"], "scores": [{"name": "LeastLoaded", "weight": 2}]}]}`))
	f.Add([]byte(`{"profiles": [{"name": "p", "filters": ["Healthy"], "pluginArgs": {"Healthy": {"heartbeatTimeout": "1s"}}}]}`))
	f.Add([]byte(`{"profiles": [{"name": "p", "scores": [{"name": "LeastLoad", "weight": 0}]}, {"name": "p"}]}`))
	f.Add([]byte(`{"profiles": [`))
	f.Add([]byte(`null`))
	fleet := benchFleet(40)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, nil)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 || c != nil {
				t.Fatalf("ParseConfig returned %v, %T %v", c, err, err)
			}
			return
		}
		for _, p := range c.Profiles {
			fw, err := c.Framework(p.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range benchQueries {
				d := fw.Place(q, fleet, t0)
				if d.Chosen == "" {
					continue
				}
				if _, ok := d.Score(d.Chosen); !ok {
					t.Fatalf("chosen %s has no score: %s", d.Chosen, d)
				}
			}
		}
	})
}
