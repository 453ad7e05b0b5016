package testcoordinator

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// durationUnits are airlift's time units, smallest first.
var durationUnits = []struct {
	name string
	size float64
}{
	{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9},
}

// formatDuration writes d the way airlift's Duration.toString does after
// convertToMostSuccinctTimeUnit: two decimals and the largest unit in which the value
// exceeds 0.9999 ("0.00ns", "250.00ms", "1.50s", "3.00m").
func formatDuration(d time.Duration) string {
	v := float64(max(d, 0))
	unit := durationUnits[0]
	for _, u := range durationUnits {
		if v/u.size <= 0.9999 {
			break
		}
		unit = u
	}
	return strconv.FormatFloat(v/unit.size, 'f', 2, 64) + unit.name
}

// formatSize writes a byte count as airlift's succinct DataSize ("0B", "10MB", "1.50GB").
func formatSize(n int64) string { return protocol.FormatDataSize(n) }

// formatTime writes an instant as the engines' JSON does (UTC, milliseconds).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// readBody returns the request body as a string.
func readBody(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// normalizeSQL is the key of a script: the text without surrounding white space and one
// trailing semicolon.
func normalizeSQL(sql string) string {
	s := strings.TrimSpace(sql)
	s = strings.TrimSuffix(s, ";")
	return strings.TrimSpace(s)
}
