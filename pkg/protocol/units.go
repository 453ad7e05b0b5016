package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses an airlift Duration as clients send it in maxWait: a decimal number
// and a unit among ns, us, ms, s, m, h, d ("500ms", "1s", "1.50s", "0.1h").
func ParseDuration(v string) (time.Duration, error) {
	n, unit, err := splitNumber(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", v, err)
	}
	mult, ok := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if !ok {
		return 0, fmt.Errorf("invalid duration %q: unknown unit %q", v, unit)
	}
	d := n * float64(mult)
	if d > float64(1<<62) {
		return 0, fmt.Errorf("invalid duration %q: too large", v)
	}
	return time.Duration(d), nil
}

// ParseDataSize parses an airlift DataSize as clients send it in targetResultSize: a
// decimal number and a unit among B, kB, MB, GB, TB, PB ("1MB", "512kB"); a bare number is
// bytes.
func ParseDataSize(v string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	n, unit, err := splitNumber(v)
	if err != nil {
		return 0, fmt.Errorf("invalid data size %q: %w", v, err)
	}
	mult, ok := map[string]float64{"B": 1, "kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}[unit]
	if !ok {
		return 0, fmt.Errorf("invalid data size %q: unknown unit %q", v, unit)
	}
	size := n * mult
	if size > float64(1<<62) {
		return 0, fmt.Errorf("invalid data size %q: too large", v)
	}
	return int64(size), nil
}

// splitNumber splits "1.5ms" into 1.5 and "ms"; the number must be finite and >= 0.
func splitNumber(v string) (float64, string, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, "", fmt.Errorf("no number")
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil || n < 0 {
		return 0, "", fmt.Errorf("bad number")
	}
	return n, strings.TrimSpace(v[i:]), nil
}

// FormatDataSize writes bytes the way airlift's DataSize.succinct does: the largest unit
// in which the value is at least 1, with up to two decimals ("0B", "512B", "1.50GB").
func FormatDataSize(bytes int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	v := float64(bytes)
	i := 0
	for i < len(units)-1 && (v >= 1024 || v <= -1024) {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10) + units[i]
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + units[i]
}
