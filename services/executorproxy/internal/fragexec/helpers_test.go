package fragexec

import (
	"os"
	"testing"

	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tpchcheck.Cleanup()
	os.Exit(code)
}

// newRunner is a Runner over the shared TPC-H database with a fresh store.
func newRunner(t *testing.T) (*Runner, *Store) {
	t.Helper()
	db, cat := tpchcheck.TinyDB(t)
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(db.DB(), store, WithCatalog(cat, "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return r, store
}
