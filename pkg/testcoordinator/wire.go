package testcoordinator

import "github.com/sluicehq/sluice/pkg/protocol"

// queryInfoJSON is the subset of QueryInfo (and, without fieldNames, BasicQueryInfo) served.
type queryInfoJSON struct {
	QueryID     string           `json:"queryId"`
	Session     sessionJSON      `json:"session"`
	State       string           `json:"state"`
	Scheduled   bool             `json:"scheduled"`
	Self        string           `json:"self"`
	FieldNames  []string         `json:"fieldNames,omitempty"`
	Query       string           `json:"query"`
	QueryType   string           `json:"queryType,omitempty"`
	QueryStats  queryStatsJSON   `json:"queryStats"`
	ErrorType   string           `json:"errorType,omitempty"`
	ErrorCode   *errorCodeJSON   `json:"errorCode,omitempty"`
	FailureInfo *failureInfoJSON `json:"failureInfo,omitempty"`
	Warnings    []any            `json:"warnings"`
	FinalInfo   bool             `json:"finalQueryInfo"`
}

// sessionJSON is the subset of SessionRepresentation served.
type sessionJSON struct {
	QueryID                  string                       `json:"queryId"`
	TransactionID            string                       `json:"transactionId,omitempty"`
	ClientTransactionSupport bool                         `json:"clientTransactionSupport"`
	User                     string                       `json:"user"`
	OriginalUser             string                       `json:"originalUser,omitempty"`
	Principal                string                       `json:"principal,omitempty"`
	Groups                   []string                     `json:"groups"`
	Source                   string                       `json:"source,omitempty"`
	Catalog                  string                       `json:"catalog,omitempty"`
	Schema                   string                       `json:"schema,omitempty"`
	Path                     string                       `json:"path,omitempty"`
	TraceToken               string                       `json:"traceToken,omitempty"`
	TimeZone                 string                       `json:"timeZone,omitempty"`
	Locale                   string                       `json:"locale,omitempty"`
	UserAgent                string                       `json:"userAgent,omitempty"`
	ClientInfo               string                       `json:"clientInfo,omitempty"`
	ClientTags               []string                     `json:"clientTags"`
	ResourceEstimates        map[string]any               `json:"resourceEstimates"`
	Start                    string                       `json:"start"`
	SystemProperties         map[string]string            `json:"systemProperties"`
	CatalogProperties        map[string]map[string]string `json:"catalogProperties"`
	CatalogRoles             map[string]selectedRoleJSON  `json:"catalogRoles"`
	PreparedStatements       map[string]string            `json:"preparedStatements"`
	ProtocolName             string                       `json:"protocolName"`
}

// selectedRoleJSON is Trino's SelectedRole.
type selectedRoleJSON struct {
	Type string `json:"type"`
	Role string `json:"role,omitempty"`
}

// queryStatsJSON is the subset of QueryStats (and BasicQueryStats) served; durations and
// data sizes are airlift strings ("1.50s", "10MB").
type queryStatsJSON struct {
	CreateTime                 string   `json:"createTime"`
	ExecutionStartTime         string   `json:"executionStartTime,omitempty"`
	LastHeartbeat              string   `json:"lastHeartbeat"`
	EndTime                    string   `json:"endTime,omitempty"`
	QueuedTime                 string   `json:"queuedTime"`
	ElapsedTime                string   `json:"elapsedTime"`
	ExecutionTime              string   `json:"executionTime"`
	TotalDrivers               int      `json:"totalDrivers"`
	QueuedDrivers              int      `json:"queuedDrivers"`
	RunningDrivers             int      `json:"runningDrivers"`
	BlockedDrivers             int      `json:"blockedDrivers"`
	CompletedDrivers           int      `json:"completedDrivers"`
	CumulativeUserMemory       float64  `json:"cumulativeUserMemory"`
	UserMemoryReservation      string   `json:"userMemoryReservation"`
	TotalMemoryReservation     string   `json:"totalMemoryReservation"`
	PeakUserMemoryReservation  string   `json:"peakUserMemoryReservation"`
	PeakTotalMemoryReservation string   `json:"peakTotalMemoryReservation"`
	TotalCPUTime               string   `json:"totalCpuTime"`
	TotalScheduledTime         string   `json:"totalScheduledTime"`
	FullyBlocked               bool     `json:"fullyBlocked"`
	BlockedReasons             []string `json:"blockedReasons"`
	ProgressPercentage         float64  `json:"progressPercentage"`
	RawInputDataSize           string   `json:"rawInputDataSize"`
	RawInputPositions          int64    `json:"rawInputPositions"`
	ProcessedInputDataSize     string   `json:"processedInputDataSize"`
	ProcessedInputPositions    int64    `json:"processedInputPositions"`
	OutputDataSize             string   `json:"outputDataSize"`
	OutputPositions            int64    `json:"outputPositions"`
}

// errorCodeJSON is ErrorCode: Trino writes fatal, Presto retriable.
type errorCodeJSON struct {
	Code      int    `json:"code"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Fatal     *bool  `json:"fatal,omitempty"`
	Retriable *bool  `json:"retriable,omitempty"`
}

// failureInfoJSON is ExecutionFailureInfo.
type failureInfoJSON struct {
	Type          string                  `json:"type"`
	Message       string                  `json:"message"`
	Suppressed    []any                   `json:"suppressed"`
	Stack         []string                `json:"stack"`
	ErrorLocation *protocol.ErrorLocation `json:"errorLocation,omitempty"`
	ErrorCode     errorCodeJSON           `json:"errorCode"`
}
