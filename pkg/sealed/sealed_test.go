package sealed_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/sealed"
)

func newKey(t *testing.T) *sealed.Key {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	k, err := sealed.ParseKey(base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealOpen: a sealed value opens only with its key and its query ID, and does not
// contain the plaintext.
func TestSealOpen(t *testing.T) {
	k, other := newKey(t), newKey(t)
	const auth = "Bearer eyJhbGciOiJIUzI1NiJ9.secret"
	v, err := k.Seal("q1", auth)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "secret") || !strings.HasPrefix(v, "v1.") {
		t.Fatalf("sealed value %q", v)
	}
	if got, err := k.Open("q1", v); err != nil || got != auth {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, open := range map[string]func() (string, error){
		"another query": func() (string, error) { return k.Open("q2", v) },
		"another key":   func() (string, error) { return other.Open("q1", v) },
		"damaged":       func() (string, error) { return k.Open("q1", v[:len(v)-2]+"AA") },
		"no prefix":     func() (string, error) { return k.Open("q1", strings.TrimPrefix(v, "v1.")) },
		"not base64":    func() (string, error) { return k.Open("q1", "v1.***") },
		"too short":     func() (string, error) { return k.Open("q1", "v1.AAAA") },
	} {
		if got, err := open(); !errors.Is(err, sealed.ErrOpen) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
}

// TestParseKey: 32 bytes in any base64 alphabet; anything else is a clear error.
func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := sealed.ParseKey(enc.EncodeToString(raw) + "\n"); err != nil {
			t.Errorf("ParseKey: %v", err)
		}
	}
	for in, want := range map[string]string{
		base64.StdEncoding.EncodeToString(raw[:16]): "has 16 bytes, want 32",
		"not base64 at all!":                        "not base64",
	} {
		if _, err := sealed.ParseKey(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKey(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
