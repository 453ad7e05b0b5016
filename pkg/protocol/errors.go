package protocol

import "fmt"

// ErrorType is the category of a QueryError.
type ErrorType string

// Error categories, as in Trino's ErrorType.
const (
	UserError             ErrorType = "USER_ERROR"
	InternalError         ErrorType = "INTERNAL_ERROR"
	InsufficientResources ErrorType = "INSUFFICIENT_RESOURCES"
	External              ErrorType = "EXTERNAL"
)

// ErrorCode is one entry of the error catalogue: a stable code, name and type.
type ErrorCode struct {
	Code int
	Name string
	Type ErrorType
}

// Standard error codes (Trino's StandardErrorCode) that Sluice produces, and Sluice's own
// codes in the connector range (>= 0x0100_0000, type EXTERNAL) so they never collide with
// engine codes.
var (
	GenericUserError       = ErrorCode{0, "GENERIC_USER_ERROR", UserError}
	SyntaxError            = ErrorCode{1, "SYNTAX_ERROR", UserError}
	AbandonedQuery         = ErrorCode{2, "ABANDONED_QUERY", UserError}
	UserCanceled           = ErrorCode{3, "USER_CANCELED", UserError}
	PermissionDenied       = ErrorCode{4, "PERMISSION_DENIED", UserError}
	NotFound               = ErrorCode{5, "NOT_FOUND", UserError}
	FunctionNotFound       = ErrorCode{6, "FUNCTION_NOT_FOUND", UserError}
	InvalidFunctionArg     = ErrorCode{7, "INVALID_FUNCTION_ARGUMENT", UserError}
	DivisionByZero         = ErrorCode{8, "DIVISION_BY_ZERO", UserError}
	InvalidCastArgument    = ErrorCode{9, "INVALID_CAST_ARGUMENT", UserError}
	NotSupported           = ErrorCode{13, "NOT_SUPPORTED", UserError}
	InvalidSessionProp     = ErrorCode{14, "INVALID_SESSION_PROPERTY", UserError}
	ConstraintViolation    = ErrorCode{16, "CONSTRAINT_VIOLATION", UserError}
	NumericOutOfRange      = ErrorCode{19, "NUMERIC_VALUE_OUT_OF_RANGE", UserError}
	SubqueryMultipleRows   = ErrorCode{28, "SUBQUERY_MULTIPLE_ROWS", UserError}
	QueryRejected          = ErrorCode{31, "QUERY_REJECTED", UserError}
	QueryTextTooLarge      = ErrorCode{35, "QUERY_TEXT_TOO_LARGE", UserError}
	AdministrativelyKilled = ErrorCode{38, "ADMINISTRATIVELY_KILLED", UserError}
	TypeNotFound           = ErrorCode{43, "TYPE_NOT_FOUND", UserError}
	CatalogNotFound        = ErrorCode{44, "CATALOG_NOT_FOUND", UserError}
	SchemaNotFound         = ErrorCode{45, "SCHEMA_NOT_FOUND", UserError}
	TableNotFound          = ErrorCode{46, "TABLE_NOT_FOUND", UserError}
	ColumnNotFound         = ErrorCode{47, "COLUMN_NOT_FOUND", UserError}
	TypeMismatch           = ErrorCode{58, "TYPE_MISMATCH", UserError}

	GenericInternalError = ErrorCode{65536, "GENERIC_INTERNAL_ERROR", InternalError}
	ServerShuttingDown   = ErrorCode{65545, "SERVER_SHUTTING_DOWN", InternalError}

	GenericInsufficientResources = ErrorCode{131072, "GENERIC_INSUFFICIENT_RESOURCES", InsufficientResources}
	ExceededMemoryLimit          = ErrorCode{131073, "EXCEEDED_GLOBAL_MEMORY_LIMIT", InsufficientResources}
	QueryQueueFull               = ErrorCode{131074, "QUERY_QUEUE_FULL", InsufficientResources}
	ExceededTimeLimit            = ErrorCode{131075, "EXCEEDED_TIME_LIMIT", InsufficientResources}

	// SluiceClusterLost: the cluster running the query went away and the query could not
	// be retried safely.
	SluiceClusterLost = ErrorCode{0x0100_0000, "SLUICE_CLUSTER_LOST", External}
	// SluiceBackendError: the backend failed in a way Sluice could not classify.
	SluiceBackendError = ErrorCode{0x0100_0001, "SLUICE_BACKEND_ERROR", External}
	// SluiceDispatchFailed: no cluster could be handed the query; every dispatch allowed
	// failed before the query started.
	SluiceDispatchFailed = ErrorCode{0x0100_0002, "SLUICE_DISPATCH_FAILED", External}
)

// NewError builds a QueryError for a catalogue entry with a message.
func NewError(code ErrorCode, format string, args ...any) *QueryError {
	msg := fmt.Sprintf(format, args...)
	return &QueryError{
		Message:   msg,
		ErrorCode: code.Code,
		ErrorName: code.Name,
		ErrorType: string(code.Type),
		FailureInfo: &FailureInfo{
			Type:       "io.sluice." + code.Name,
			Message:    msg,
			Suppressed: []FailureInfo{},
			Stack:      []string{},
		},
	}
}

// Error implements error so a QueryError can travel as a Go error.
func (e *QueryError) Error() string { return e.ErrorName + ": " + e.Message }
