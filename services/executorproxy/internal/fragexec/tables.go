package fragexec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/fragment"
)

// tableName is the shape of a base table's name, lower-cased.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// tables maps one fragment's named tables to DuckDB table expressions and remembers
// which input files it handed out.
type tables struct {
	catalog, schema string
	dir             string            // the schema's Parquet directory, for partition reads
	inputs          map[string]string // child fragment ID → Parquet path
	used            []string          // input paths read, in plan order
	// rows returns a Parquet file's row count (from its footer); nil: partitions of a
	// file are rows modulo n instead of contiguous ranges.
	rows func(file string) (int64, error)
}

// table is a substraitsql.Options.Table function.
func (t *tables) table(names []string) (string, error) {
	switch {
	case len(names) == 0:
		return "", fmt.Errorf("%w: empty table name", ErrPlan)
	case names[0] == fragment.PlaceholderTable:
		if len(names) != 2 {
			return "", fmt.Errorf("%w: placeholder read %q", ErrPlan, strings.Join(names, "."))
		}
		p, ok := t.inputs[names[1]]
		if !ok || p == "" {
			return "", fmt.Errorf("%w: no output of fragment %s among the inputs", ErrInput, names[1])
		}
		t.used = append(t.used, p)
		return "read_parquet(" + quoteString(p) + ")", nil
	case names[0] == fragment.PartitionTable:
		return t.partition(names)
	case strings.HasPrefix(names[0], "__sluice_"):
		return "", fmt.Errorf("%w: reserved table name %q", ErrPlan, strings.Join(names, "."))
	}
	name, err := baseTable(names)
	if err != nil {
		return "", err
	}
	return quoteIdent(t.catalog) + "." + quoteIdent(t.schema) + "." + quoteIdent(name), nil
}

// partition maps ["__sluice_partition", i, n, TABLE] to partition i of n of TABLE's
// Parquet files. With at least n files, partition i reads files i, i+n, i+2n, … (sorted
// by name). Otherwise it reads rows [i·N/n, (i+1)·N/n) of each file of N rows: a range of
// file_row_number, which DuckDB pushes into the reader, so each partition decodes only
// its row groups. Without row counts it keeps the rows whose number within their file is
// i modulo n (exact, but every partition decodes every file). Either way every row lands
// in exactly one partition.
func (t *tables) partition(names []string) (string, error) {
	if len(names) < 4 {
		return "", fmt.Errorf("%w: partition read %q", ErrPlan, strings.Join(names, "."))
	}
	i, err1 := strconv.Atoi(names[1])
	n, err2 := strconv.Atoi(names[2])
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return "", fmt.Errorf("%w: partition read %q: want index < count", ErrPlan, strings.Join(names, "."))
	}
	name, err := baseTable(names[3:])
	if err != nil {
		return "", err
	}
	if t.dir == "" {
		return "", fmt.Errorf("%w: partition read of %s: the runner has no table directory (WithCatalog)", ErrPlan, name)
	}
	files, err := tableFiles(t.dir, name)
	if err != nil {
		return "", err
	}
	if len(files) >= n {
		var mine []string
		for j := i; j < len(files); j += n {
			mine = append(mine, files[j])
		}
		return "read_parquet(" + fileList(mine) + ")", nil
	}
	if t.rows == nil {
		return fmt.Sprintf("(SELECT * EXCLUDE (file_row_number) FROM read_parquet(%s, file_row_number = true) WHERE file_row_number %% %d = %d)",
			fileList(files), n, i), nil
	}
	var ranges []string
	for _, f := range files {
		rows, err := t.rows(f)
		if err != nil {
			return "", fmt.Errorf("%w: partition read of %s: %w", ErrInput, name, err)
		}
		lo, hi := rows*int64(i)/int64(n), rows*int64(i+1)/int64(n)
		ranges = append(ranges, fmt.Sprintf("SELECT * EXCLUDE (file_row_number) FROM read_parquet(%s, file_row_number = true) WHERE file_row_number >= %d AND file_row_number < %d",
			quoteString(f), lo, hi))
	}
	return "(" + strings.Join(ranges, " UNION ALL ") + ")", nil
}

// baseTable is the lower-cased name of a base table read as names: the last component,
// which must be a plain identifier.
func baseTable(names []string) (string, error) {
	name := strings.ToLower(names[len(names)-1])
	if !tableName.MatchString(name) {
		return "", fmt.Errorf("%w: table name %q", ErrPlan, strings.Join(names, "."))
	}
	return name, nil
}

// tableFiles lists a table's Parquet files in dir: <dir>/<table>.parquet, else the
// files of <dir>/<table>/*.parquet sorted by name.
func tableFiles(dir, table string) ([]string, error) {
	single := filepath.Join(dir, table+".parquet")
	if fi, err := os.Stat(single); err == nil && fi.Mode().IsRegular() {
		return []string{single}, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, table, "*.parquet"))
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %w", ErrPlan, table, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: table %s has no Parquet files in %s", ErrPlan, table, dir)
	}
	sort.Strings(files)
	return files, nil
}

// fileList is a DuckDB string, or list of strings, naming files.
func fileList(files []string) string {
	if len(files) == 1 {
		return quoteString(files[0])
	}
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = quoteString(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
