package fragment

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformedPlan reports input that is not a valid Substrait plan: undecodable
	// bytes, a relation without a type or without a required input, a reference to an
	// undeclared function, or a plan substrait-go rejects.
	ErrMalformedPlan = errors.New("malformed substrait plan")
	// ErrUnsupported reports a valid plan that uses something this package cannot cut:
	// a relation type it cannot type or classify, an unknown extension, or an
	// unsupported content type.
	ErrUnsupported = errors.New("unsupported substrait plan")
	// ErrInvalidOption reports Options that cannot be used (a bad query ID, a negative
	// scale factor or partition count).
	ErrInvalidOption = errors.New("invalid fragment option")
)

// Error is a failure located in a plan. It wraps ErrMalformedPlan or ErrUnsupported,
// so callers test it with errors.Is and read the location with errors.As.
type Error struct {
	// Kind is ErrMalformedPlan or ErrUnsupported.
	Kind error
	// Path locates the relation in the plan, e.g. "root.input.aggregate.input.cross.left";
	// empty when the failure is not tied to one relation.
	Path string
	// Rel names the relation type at Path, e.g. "CrossRel"; empty when unknown.
	Rel string
	// Detail says what is wrong.
	Detail string
	// Cause is the underlying error (from protobuf or substrait-go), if any.
	Cause error
}

// Error renders the kind, the location and the detail.
func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Path != "" {
		msg += " at " + e.Path
	}
	if e.Rel != "" {
		msg += " (" + e.Rel + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap exposes both the sentinel kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// malformed builds an ErrMalformedPlan error at path.
func malformed(path, rel, format string, args ...any) *Error {
	return &Error{Kind: ErrMalformedPlan, Path: path, Rel: rel, Detail: fmt.Sprintf(format, args...)}
}

// unsupported builds an ErrUnsupported error at path.
func unsupported(path, rel, format string, args ...any) *Error {
	return &Error{Kind: ErrUnsupported, Path: path, Rel: rel, Detail: fmt.Sprintf(format, args...)}
}
