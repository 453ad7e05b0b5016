package cli

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseCoordinators: SLUICE_COORDINATORS entries, and a clear error for each mistake.
func TestParseCoordinators(t *testing.T) {
	got, err := parseCoordinators(" prod-1=trino:http://10.0.0.5:8080, legacy=presto:https://p.example:8443 ,")
	want := []coordinatorCluster{{"prod-1", "trino", "http://10.0.0.5:8080"}, {"legacy", "presto", "https://p.example:8443"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseCoordinators = %+v, %v", got, err)
	}
	if got, err := parseCoordinators(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %+v, %v", got, err)
	}
	for in, wantErr := range map[string]string{
		"prod-1":                            "is not name=trino:URL",
		"prod-1=mysql:http://x":             "is not name=trino:URL",
		"prod-1=trino:":                     "is not name=trino:URL",
		"a b=trino:http://x":                "cluster name",
		"a=trino:http://x,a=trino:http://y": `"a" is taken`,
		"local-1=trino:http://x":            `"local-1" is taken`,
	} {
		if _, err := parseCoordinators(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseCoordinators(%q) = %v, want an error containing %q", in, err, wantErr)
		}
	}
}
