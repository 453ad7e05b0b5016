package confcheck

import (
	"errors"
	"strconv"
	"strings"
)

// FieldError is one problem in a configuration, located by its JSON path
// ("profiles[0].scores[1].name"). Path is empty for problems of the whole document, such
// as malformed JSON.
type FieldError struct {
	// Path is the JSON path of the offending field or element.
	Path string
	// Message says what is wrong.
	Message string
}

// Error returns Path + ": " + Message, or Message alone when Path is empty.
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError lists every problem found in a configuration, in the order the parser
// found them.
type ValidationError struct {
	// Errors lists the problems; parsers never return it empty.
	Errors []FieldError

	kind error
}

// NewValidationError returns the ValidationError of errs that unwraps to kind, the
// sentinel of the parser's package (nil for none), so that errors.Is(err, kind) holds.
func NewValidationError(kind error, errs []FieldError) *ValidationError {
	return &ValidationError{Errors: errs, kind: kind}
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the sentinel given to NewValidationError, or nil.
func (e *ValidationError) Unwrap() error { return e.kind }

// Join appends a field name to a JSON path: "a.b" for Join("a", "b"), and field alone
// when path is empty.
func Join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Index appends an array index to a JSON path: "rules[2]" for Index("rules", 2).
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Locate returns err as a FieldError at path. When err is or wraps a FieldError, as the
// errors of DecodeStrict about a field are, its Path is taken as relative to path;
// otherwise the message is err.Error().
func Locate(path string, err error) FieldError {
	var fe FieldError
	if errors.As(err, &fe) {
		if fe.Path != "" {
			path = Join(path, fe.Path)
		}
		return FieldError{Path: path, Message: fe.Message}
	}
	return FieldError{Path: path, Message: err.Error()}
}
