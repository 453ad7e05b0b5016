package executorproxy

import (
	"runtime"
	"sync"
	"syscall"
	"time"
)

// cpuMeter measures the share of the machine's CPUs this process used between two samples
// (DuckDB runs in the process, so this is the cluster's CPU load).
type cpuMeter struct {
	mu      sync.Mutex
	lastAt  time.Time
	lastCPU time.Duration
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{}
	m.lastAt, m.lastCPU = time.Now(), processCPU()
	return m
}

// sample returns the busy share, 0 to 1, since the previous sample.
func (m *cpuMeter) sample() float64 {
	now, cpu := time.Now(), processCPU()
	m.mu.Lock()
	defer m.mu.Unlock()
	wall := now.Sub(m.lastAt)
	used := cpu - m.lastCPU
	m.lastAt, m.lastCPU = now, cpu
	if wall <= 0 || used < 0 {
		return 0
	}
	return min(float64(used)/float64(wall)/float64(runtime.NumCPU()), 1)
}

// processCPU is the user and system CPU time of this process so far (0 if unknown).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
