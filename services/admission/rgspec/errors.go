package rgspec

import "strings"

// FieldError is one problem in a file, located by its JSON path ("rootGroups[1].subGroups[0].
// hardConcurrencyLimit", "selectors[2].group"). Path is empty for problems with the
// document as a whole, such as malformed JSON.
type FieldError struct {
	// Path is the JSON path of the offending field or element.
	Path string
	// Message says what is wrong.
	Message string
}

// Error returns Path + ": " + Message, or only Message when Path is empty.
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError is every problem Parse found in a file, in a stable order: the order in
// which Parse walks the document (top-level fields, then each group depth first, then
// each selector).
type ValidationError struct {
	// Errors lists the problems; it is never empty.
	Errors []FieldError
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}
