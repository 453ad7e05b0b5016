// Package protocol holds the JSON documents of the Trino/Presto client statement protocol
// (QueryResults, StatementStats, QueryError, columns and type signatures) and the standard
// error codes Sluice answers with. It has no behaviour beyond encoding helpers.
package protocol

// QueryResults is the document returned by every POST and GET of the statement protocol.
// The query is over when NextURI is empty; Error is then set if it failed.
type QueryResults struct {
	ID               string         `json:"id"`
	InfoURI          string         `json:"infoUri"`
	PartialCancelURI string         `json:"partialCancelUri,omitempty"`
	NextURI          string         `json:"nextUri,omitempty"`
	Columns          []Column       `json:"columns,omitempty"`
	Data             [][]any        `json:"data,omitempty"`
	Stats            StatementStats `json:"stats"`
	Error            *QueryError    `json:"error,omitempty"`
	Warnings         []Warning      `json:"warnings"`
	UpdateType       string         `json:"updateType,omitempty"`
	UpdateCount      *int64         `json:"updateCount,omitempty"`
}

// Warning is one entry of QueryResults.Warnings.
type Warning struct {
	WarningCode WarningCode `json:"warningCode"`
	Message     string      `json:"message"`
}

// WarningCode names a warning.
type WarningCode struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

// StatementStats mirrors Trino's StatementStats.
type StatementStats struct {
	State              string  `json:"state"`
	Queued             bool    `json:"queued"`
	Scheduled          bool    `json:"scheduled"`
	Nodes              int     `json:"nodes"`
	TotalSplits        int     `json:"totalSplits"`
	QueuedSplits       int     `json:"queuedSplits"`
	RunningSplits      int     `json:"runningSplits"`
	CompletedSplits    int     `json:"completedSplits"`
	CPUTimeMillis      int64   `json:"cpuTimeMillis"`
	WallTimeMillis     int64   `json:"wallTimeMillis"`
	QueuedTimeMillis   int64   `json:"queuedTimeMillis"`
	ElapsedTimeMillis  int64   `json:"elapsedTimeMillis"`
	ProcessedRows      int64   `json:"processedRows"`
	ProcessedBytes     int64   `json:"processedBytes"`
	PhysicalInputBytes int64   `json:"physicalInputBytes"`
	PeakMemoryBytes    int64   `json:"peakMemoryBytes"`
	SpilledBytes       int64   `json:"spilledBytes"`
	ProgressPercentage float64 `json:"progressPercentage,omitempty"`
	// QueuedReason is a Sluice extension: why the query still waits in the global queue.
	QueuedReason string `json:"sluiceQueuedReason,omitempty"`
}

// Column describes one result column.
type Column struct {
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	TypeSignature TypeSignature `json:"typeSignature"`
}

// TypeSignature is the structured form of a Trino type.
type TypeSignature struct {
	RawType   string         `json:"rawType"`
	Arguments []TypeArgument `json:"arguments"`
}

// TypeArgument is one parameter of a parametric type: a long (kind LONG), a nested type
// (kind TYPE) or a named type (kind NAMED_TYPE, for row fields).
type TypeArgument struct {
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

// NamedTypeSignature is the value of a NAMED_TYPE argument.
type NamedTypeSignature struct {
	FieldName     *RowFieldName `json:"fieldName,omitempty"`
	TypeSignature TypeSignature `json:"typeSignature"`
}

// RowFieldName names a row field.
type RowFieldName struct {
	Name string `json:"name"`
}

// QueryError is the error document of a failed query.
type QueryError struct {
	Message       string         `json:"message"`
	SQLState      string         `json:"sqlState,omitempty"`
	ErrorCode     int            `json:"errorCode"`
	ErrorName     string         `json:"errorName"`
	ErrorType     string         `json:"errorType"`
	Retriable     bool           `json:"retriable,omitempty"`
	ErrorLocation *ErrorLocation `json:"errorLocation,omitempty"`
	FailureInfo   *FailureInfo   `json:"failureInfo,omitempty"`
}

// ErrorLocation points into the SQL text (1-based).
type ErrorLocation struct {
	LineNumber   int `json:"lineNumber"`
	ColumnNumber int `json:"columnNumber"`
}

// FailureInfo is the exception chain of a failure.
type FailureInfo struct {
	Type          string         `json:"type"`
	Message       string         `json:"message"`
	Suppressed    []FailureInfo  `json:"suppressed"`
	Stack         []string       `json:"stack"`
	ErrorLocation *ErrorLocation `json:"errorLocation,omitempty"`
}
