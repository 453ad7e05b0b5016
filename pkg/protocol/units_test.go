package protocol

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"500ms": 500 * time.Millisecond, "1s": time.Second, "1.50s": 1500 * time.Millisecond,
		"2m": 2 * time.Minute, "0.1h": 6 * time.Minute, "100us": 100 * time.Microsecond, " 1d ": 24 * time.Hour,
	}
	for in, want := range cases {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "1", "1x", "-1s", "1e3s", "..s", "99999999999999999999h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestParseDataSize(t *testing.T) {
	cases := map[string]int64{"1MB": 1 << 20, "512kB": 512 << 10, "1048576B": 1 << 20, "42": 42, "1.5GB": 3 << 29, "2PB": 2 << 50}
	for in, want := range cases {
		got, err := ParseDataSize(in)
		if err != nil || got != want {
			t.Errorf("ParseDataSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "1ZB", "-1MB", "1e99TB"} {
		if _, err := ParseDataSize(bad); err == nil {
			t.Errorf("ParseDataSize(%q) accepted", bad)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1s", "500ms", "1.5m", "", "x", "9999999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, d)
		}
	})
}

func FuzzParseDataSize(f *testing.F) {
	for _, s := range []string{"1MB", "12", "1.5kB", "", "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDataSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseDataSize(%q) = %d: negative", s, n)
		}
	})
}

func TestFormatDataSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0B"}, {512, "512B"}, {1024, "1kB"}, {1536 << 20, "1.50GB"}, {10 << 30, "10GB"}, {-2048, "-2kB"}} {
		if got := FormatDataSize(tc.in); got != tc.want {
			t.Errorf("FormatDataSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in >= 0 {
			if back, err := ParseDataSize(FormatDataSize(tc.in)); err != nil || back != tc.in {
				t.Errorf("ParseDataSize(FormatDataSize(%d)) = %d, %v", tc.in, back, err)
			}
		}
	}
}
