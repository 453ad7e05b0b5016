package substraitsql

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsupported reports a relation, expression, function, type or option that the
	// translator does not turn into SQL.
	ErrUnsupported = errors.New("substraitsql: unsupported")
	// ErrInvalidPlan reports a plan that breaks Substrait's rules: a missing input, a field
	// reference out of range, an undeclared function anchor, a malformed literal.
	ErrInvalidPlan = errors.New("substraitsql: invalid plan")
)

// Error is a translation failure at one node of the plan. Kind is ErrUnsupported or
// ErrInvalidPlan (errors.Is works on it), Path names the node the way the plan's JSON
// would, e.g. "root.input.filter.condition".
type Error struct {
	Kind error
	Path string
	Msg  string
}

// Error reads "substraitsql: unsupported: function "regexp_like:str_str" at root.input.filter.condition".
func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%v: %s", e.Kind, e.Msg)
	}
	return fmt.Sprintf("%v: %s at %s", e.Kind, e.Msg, e.Path)
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func unsupported(path, format string, args ...any) error {
	return &Error{Kind: ErrUnsupported, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func invalid(path, format string, args ...any) error {
	return &Error{Kind: ErrInvalidPlan, Path: path, Msg: fmt.Sprintf(format, args...)}
}
