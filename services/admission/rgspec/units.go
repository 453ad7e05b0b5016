package rgspec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// parseDataSize parses an airlift DataSize ("100B", "512MB", "10GB", "1.5TB", "2PB"; the
// units are powers of 1024). Airlift requires a unit, so a bare number is rejected here
// although protocol.ParseDataSize, which reads client headers, takes it as bytes.
func parseDataSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty data size")
	}
	if strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return 0, fmt.Errorf("data size %q has no unit (B, kB, MB, GB, TB, PB)", s)
	}
	return protocol.ParseDataSize(t)
}

// percentRE is Trino's percentage form of softMemoryLimit: up to three digits, an optional
// fraction, and "%".
var percentRE = regexp.MustCompile(`^(\d{1,3}(?:\.\d+)?)%$`)

// parseMemoryLimit parses a softMemoryLimit: a percentage of fleet memory ("85%", at most
// 100%) or an absolute data size.
func parseMemoryLimit(s string) (MemoryLimit, error) {
	if m := percentRE.FindStringSubmatch(s); m != nil {
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return MemoryLimit{}, fmt.Errorf("invalid percentage %q", s)
		}
		if f > 100 {
			return MemoryLimit{}, fmt.Errorf("percentage %q is over 100%%", s)
		}
		return MemoryLimit{Fraction: f / 100, IsFraction: true, Set: true}, nil
	}
	if strings.HasSuffix(strings.TrimSpace(s), "%") {
		return MemoryLimit{}, fmt.Errorf("invalid percentage %q (want e.g. \"85%%\" or \"12.5%%\")", s)
	}
	b, err := parseDataSize(s)
	if err != nil {
		return MemoryLimit{}, fmt.Errorf("must be a data size such as \"10GB\" or a percentage such as \"85%%\": %v", err)
	}
	return MemoryLimit{Bytes: b, Set: true}, nil
}
