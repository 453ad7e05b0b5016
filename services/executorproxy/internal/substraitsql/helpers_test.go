package substraitsql

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

func loadPlan(t testing.TB, name string) *substraitpb.Plan {
	t.Helper()
	p, err := ParseJSON(tpchcheck.ReadShared(t, "substrait", "isthmus", name+".json"))
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
