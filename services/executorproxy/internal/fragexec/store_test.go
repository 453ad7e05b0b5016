package fragexec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStorePath(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Path("q1", "q1_f2_p0")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.Root(), "q1", "q1_f2_p0.parquet"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	for name, ids := range map[string][2]string{
		"empty query":     {"", "f"},
		"empty fragment":  {"q", ""},
		"parent dir":      {"..", "f"},
		"slash":           {"q", "a/b"},
		"dot":             {"q", "f.parquet"},
		"backslash":       {"q", `a\b`},
		"too long":        {"q", string(make([]byte, maxIDLen+1))},
		"space":           {"q 1", "f"},
		"non-ASCII":       {"q", "fé"},
		"absolute":        {"/etc", "passwd"},
		"NUL":             {"q\x00", "f"},
		"query parent":    {"../x", "f"},
		"fragment parent": {"q", "../../x"},
	} {
		if _, err := s.Path(ids[0], ids[1]); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s: Path(%q, %q) = %v, want ErrInvalidID", name, ids[0], ids[1], err)
		}
	}
}

func TestStoreDeleteQuery(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(q, f string, n int) string {
		p, err := s.Path(q, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a1 := write("a", "a_f1", 100)
	a2 := write("a", "a_f2_p1", 50)
	b1 := write("b", "b_f1", 7)
	if n, err := s.Bytes(); err != nil || n != 157 {
		t.Fatalf("Bytes = %d, %v; want 157", n, err)
	}
	if err := s.DeleteQuery("a"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a1, a2, filepath.Dir(a1)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived DeleteQuery: %v", p, err)
		}
	}
	if _, err := os.Stat(b1); err != nil {
		t.Errorf("another query's result is gone: %v", err)
	}
	if n, err := s.Bytes(); err != nil || n != 7 {
		t.Fatalf("Bytes = %d, %v; want 7", n, err)
	}
	if err := s.DeleteQuery("a"); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if err := s.DeleteQuery(".."); !errors.Is(err, ErrInvalidID) {
		t.Errorf("DeleteQuery(..) = %v, want ErrInvalidID", err)
	}
	if _, err := os.Stat(s.Root()); err != nil {
		t.Errorf("root: %v", err)
	}
}
