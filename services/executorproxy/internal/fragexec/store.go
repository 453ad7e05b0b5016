package fragexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxIDLen bounds query and fragment IDs.
const maxIDLen = 128

// Store keeps the intermediate results of fragments as Parquet files under a root
// directory: <root>/<query>/<fragment>.parquet. A partition fragment has its own ID
// ("<query>_f3_p1"), so (query, fragment) also identifies the partition. Files appear
// whole: a Runner writes a temporary file next to the result and renames it.
//
// A Store is safe for concurrent use; it holds no state besides the directory.
type Store struct {
	root string
}

// NewStore returns a Store rooted at dir, creating the directory if needed.
func NewStore(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fragexec: store %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("fragexec: store: %w", err)
	}
	return &Store{root: abs}, nil
}

// Root is the store's absolute root directory.
func (s *Store) Root() string { return s.root }

// Path is where the output of fragment of query lives (whether or not it exists yet).
// Both IDs must match [A-Za-z0-9_-]{1,128}; otherwise the error wraps ErrInvalidID.
func (s *Store) Path(query, fragment string) (string, error) {
	if err := checkID("query", query); err != nil {
		return "", err
	}
	if err := checkID("fragment", fragment); err != nil {
		return "", err
	}
	return filepath.Join(s.root, query, fragment+".parquet"), nil
}

// DeleteQuery removes every stored result of query. Removing a query with no results
// is not an error.
func (s *Store) DeleteQuery(query string) error {
	if err := checkID("query", query); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(s.root, query)); err != nil {
		return fmt.Errorf("fragexec: delete query %s: %w", query, err)
	}
	return nil
}

// Bytes is the size of everything stored, temporary files of running fragments
// included, for disk accounting.
func (s *Store) Bytes() (int64, error) {
	var n int64
	err := filepath.WalkDir(s.root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // deleted while walking
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("fragexec: store size: %w", err)
	}
	return n, nil
}

// checkID reports whether id is a safe path component.
func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: %s ID %q", ErrInvalidID, what, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c != '_' && c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: %s ID %q", ErrInvalidID, what, id)
		}
	}
	return nil
}
