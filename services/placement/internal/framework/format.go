package framework

import (
	"strconv"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// appendBytes appends n with a binary unit and one decimal, rounded: "512B", "1.5GiB".
// It avoids floating point formatting, which is slow on the hot path of filters.
func appendBytes(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		if n == -n { // the smallest int64
			return append(b, "8.0EiB"...)
		}
		n = -n
	}
	u := uint64(n)
	if u < 1024 {
		return append(strconv.AppendUint(b, u, 10), 'B')
	}
	const units = "KMGTPE"
	shift, i := uint(10), 0
	for i < len(units)-1 && u>>(shift+10) != 0 {
		shift += 10
		i++
	}
	whole := u >> shift
	rem := u & (1<<shift - 1)
	// tenths, rounded half up; rem*10 cannot overflow: rem < 2^60.
	tenths := (rem*10 + 1<<(shift-1)) >> shift
	if tenths == 10 {
		whole, tenths = whole+1, 0
	}
	b = strconv.AppendUint(b, whole, 10)
	b = append(b, '.', byte('0'+tenths), units[i], 'i', 'B')
	return b
}

// formatBytes renders n as appendBytes does.
func formatBytes(n int64) string { return string(appendBytes(nil, n)) }

// formatAge renders a duration rounded to what a person needs: "4.2s", "3m0s".
func formatAge(d time.Duration) string {
	return roundAge(d).String()
}

// roundAge rounds an age to the precision formatAge shows: seconds past a minute, tenths
// of a second past a second, else milliseconds.
func roundAge(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
