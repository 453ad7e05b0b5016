package fragexec

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

var (
	// ErrPlan reports a fragment that cannot run as given, whatever the retry: a plan the
	// translator rejects, a read of an unknown table or a malformed reserved name, SQL
	// DuckDB refuses to bind, or an invalid query or fragment ID. Not retriable.
	ErrPlan = errors.New("fragexec: fragment cannot run")
	// ErrInput reports that an input (a child fragment's output) is missing from
	// Fragment.Inputs, missing on disk, or unreadable. Retriable: the scheduler reruns
	// the children concerned and sends the fragment again with their new outputs.
	ErrInput = errors.New("fragexec: input missing")
	// ErrExec reports a failure while DuckDB ran the fragment: a runtime error in the
	// data (a failed cast, an overflow), resource exhaustion (out of memory, disk full),
	// or a failure writing the output. Running the same fragment on the same data fails
	// the same way except when resources ran out, so it is not retriable on the same
	// executor; the caller may try another one.
	ErrExec = errors.New("fragexec: execution failed")
	// ErrInvalidID reports a query or fragment ID that is not a safe file name: IDs
	// must match [A-Za-z0-9_-]{1,128}.
	ErrInvalidID = errors.New("fragexec: invalid ID")
	// ErrInvalidOption reports an option that does not validate.
	ErrInvalidOption = errors.New("fragexec: invalid option")
)

// classify wraps an error DuckDB returned while running a fragment whose inputs are the
// files inputs: cancellation passes through, errors that name an input file are
// ErrInput, DuckDB refusing the statement is ErrPlan, anything else ErrExec.
func classify(ctx context.Context, err error, inputs []string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("fragexec: %w", context.Cause(ctx))
	}
	var de *duckdb.Error
	msg := err.Error()
	if errors.As(err, &de) && de != nil && de.Msg != "" {
		msg = de.Msg
	}
	for _, p := range inputs {
		if strings.Contains(msg, p) {
			return fmt.Errorf("%w: %w", ErrInput, err)
		}
	}
	if de != nil {
		switch de.Type {
		case duckdb.ErrorTypeParser, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
			duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypePlanner:
			return fmt.Errorf("%w: %w", ErrPlan, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrExec, err)
}

// isDuckDB reports whether err comes from DuckDB.
func isDuckDB(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de)
}
