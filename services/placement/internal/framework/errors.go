package framework

import (
	"errors"

	"github.com/sluicehq/sluice/pkg/confcheck"
)

var (
	// ErrInvalidConfig is wrapped by every *ValidationError: a profile or configuration
	// that cannot be used.
	ErrInvalidConfig = errors.New("invalid placement profile")
	// ErrUnknownProfile is returned when a configuration has no profile of the requested
	// name.
	ErrUnknownProfile = errors.New("unknown placement profile")
	// ErrDuplicatePlugin is returned by Registry.Register for a name already registered.
	ErrDuplicatePlugin = errors.New("plugin already registered")
)

// FieldError is one problem in a configuration, located by its JSON path
// ("profiles[0].scores[1].name"). Path is empty for problems of the whole document.
type FieldError = confcheck.FieldError

// ValidationError lists every problem found in a configuration or profile, in document
// order. errors.Is(err, ErrInvalidConfig) holds for those this package returns.
type ValidationError = confcheck.ValidationError

// invalid returns the *ValidationError of errs, which wraps ErrInvalidConfig.
func invalid(errs []FieldError) *ValidationError {
	return confcheck.NewValidationError(ErrInvalidConfig, errs)
}
