package routing

import (
	"errors"

	"github.com/sluicehq/sluice/pkg/confcheck"
)

// ErrInvalidConfig is wrapped by every *ValidationError.
var ErrInvalidConfig = errors.New("invalid routing configuration")

// FieldError is one problem in a routing configuration, located by its JSON path
// ("rules[2].user"). Path is empty for problems of the whole document.
type FieldError = confcheck.FieldError

// ValidationError lists every problem Parse found, in document order.
// errors.Is(err, ErrInvalidConfig) holds for those this package returns.
type ValidationError = confcheck.ValidationError

// invalid returns the *ValidationError of errs, which wraps ErrInvalidConfig.
func invalid(errs []FieldError) *ValidationError {
	return confcheck.NewValidationError(ErrInvalidConfig, errs)
}
