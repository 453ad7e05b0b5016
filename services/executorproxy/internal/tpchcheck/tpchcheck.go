// Package tpchcheck is test support shared by the packages that run the Isthmus TPC-H
// plans on DuckDB: the vendored queries and plans and a TPC-H tiny database generated once
// (pkg/rowcompare compares the rows). Only tests import it.
package tpchcheck

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/pkg/tpchgen"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
)

// Queries are the TPC-H queries Isthmus has plans for (all but q15).
var Queries = shareddata.TPCHPlans

var (
	tpchOnce sync.Once
	tpchDB   *engine.DuckDB
	tpchCat  engine.Catalog
	tpchErr  error
	tpchDir  string
)

// TinyDB is a DuckDB with catalog tpch, schema tiny (TPC-H scale 0.01 from the repo's
// generator, laid out as executorproxy.TPCHCatalogs does), shared by the package's tests.
func TinyDB(t *testing.T) (*engine.DuckDB, engine.Catalog) {
	t.Helper()
	tpchOnce.Do(func() {
		ctx := context.Background()
		if tpchDir, tpchErr = os.MkdirTemp("", "fragexec-tpch-"); tpchErr != nil {
			return
		}
		dir := filepath.Join(tpchDir, "tpch", "tiny")
		gen, err := engine.Open(ctx, 0, nil)
		if err != nil {
			tpchErr = err
			return
		}
		tpchErr = tpchgen.Generate(ctx, gen.DB(), dir, 0.01)
		gen.Close()
		if tpchErr != nil {
			return
		}
		tpchCat = engine.Catalog{Name: "tpch", Schemas: map[string]string{"tiny": dir}}
		tpchDB, tpchErr = engine.Open(ctx, 0, []engine.Catalog{tpchCat})
	})
	if tpchErr != nil {
		t.Fatal(tpchErr)
	}
	return tpchDB, tpchCat
}

// ReadShared reads a file under shared/data/tpch.
func ReadShared(t testing.TB, parts ...string) []byte { return shareddata.TPCH(t, parts...) }

var placeholder = regexp.MustCompile(`'\{(\w+)\}'`)

// ReferenceSQL is the query's TPC-H SQL with '{table}' placeholders pointing at tpch.tiny.
func ReferenceSQL(t *testing.T, name string) string {
	return placeholder.ReplaceAllString(string(ReadShared(t, "sql", name+".sql")), "tpch.tiny.$1")
}

// Cleanup removes the database TinyDB made; call it from TestMain after m.Run.
func Cleanup() {
	if tpchDB != nil {
		tpchDB.Close()
	}
	if tpchDir != "" {
		os.RemoveAll(tpchDir)
	}
}

// TinySQL is the database/sql handle of TinyDB.
func TinySQL(t *testing.T) *sql.DB {
	t.Helper()
	db, _ := TinyDB(t)
	return db.DB()
}
