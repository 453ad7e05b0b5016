package protocol

// Query states as clients see them in stats.state.
const (
	StateQueued   = "QUEUED"
	StateRunning  = "RUNNING"
	StateFinished = "FINISHED"
	StateFailed   = "FAILED"
)

// QueuedStats returns the stats of a query still waiting: only state, queued and the times
// are filled, as Trino does for queued responses.
func QueuedStats(queuedMillis, elapsedMillis int64) StatementStats {
	return StatementStats{State: StateQueued, Queued: true, QueuedTimeMillis: queuedMillis, ElapsedTimeMillis: elapsedMillis}
}
