package framework

// Code is the outcome of a filter.
type Code uint8

// The filter outcomes.
const (
	// Success: the cluster can take the query. A nil *Status means the same.
	Success Code = iota
	// Unschedulable: the cluster cannot take the query now.
	Unschedulable
	// Error: the plugin could not decide (bad input); the cluster is not used.
	Error
)

// String returns "Success", "Unschedulable" or "Error".
func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Unschedulable:
		return "Unschedulable"
	case Error:
		return "Error"
	}
	return "Code(" + itoa(int64(c)) + ")"
}

// Status is the result of a filter: a code and, unless it is Success, a reason a person
// can read ("state draining", "no free slot: 8/8 running"). A nil *Status is Success.
type Status struct {
	// Code is the outcome.
	Code Code
	// Reason says why the cluster was filtered out.
	Reason string
}

// NewStatus returns a status with the given code and reason.
func NewStatus(code Code, reason string) *Status {
	return &Status{Code: code, Reason: reason}
}

// IsSuccess reports whether s is nil or has code Success.
func (s *Status) IsSuccess() bool {
	return s == nil || s.Code == Success
}
