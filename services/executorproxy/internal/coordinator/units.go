package coordinator

import (
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// parseDuration reads an airlift Duration as the engines write them in query info:
// a decimal number and a unit among ns, us, ms, s, m, h, d ("1.50s", "3.00m", "250ms",
// "2.00h", "1.00d", "10.00us", "100ns"). It never returns a negative duration.
func parseDuration(s string) (time.Duration, error) {
	return protocol.ParseDuration(s)
}

// durationOrZero is parseDuration with 0 for absent or malformed values.
func durationOrZero(s string) time.Duration {
	d, err := parseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

// dataSizeOrZero reads an airlift DataSize ("10MB", "1.5GB", "512B", "2kB"; 1024-based)
// with 0 for absent or malformed values.
func dataSizeOrZero(s string) int64 {
	n, err := protocol.ParseDataSize(s)
	if err != nil {
		return 0
	}
	return n
}
