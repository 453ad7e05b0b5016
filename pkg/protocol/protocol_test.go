package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/protocol"
)

func TestNewError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		code    protocol.ErrorCode
		format  string
		args    []any
		wantMsg string
	}{
		{"user error with args", protocol.QueryRejected, "queue %q is full (%d queued)", []any{"adhoc", 100}, `queue "adhoc" is full (100 queued)`},
		{"internal error", protocol.GenericInternalError, "boom", nil, "boom"},
		{"insufficient resources", protocol.ExceededTimeLimit, "query exceeded %s", []any{"1m"}, "query exceeded 1m"},
		{"sluice code", protocol.SluiceClusterLost, "cluster %s lost", []any{"duck-1"}, "cluster duck-1 lost"},
		{"percent without args is literal", protocol.SyntaxError, "100%% sure", nil, "100% sure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := protocol.NewError(c.code, c.format, c.args...)
			want := &protocol.QueryError{
				Message:   c.wantMsg,
				ErrorCode: c.code.Code,
				ErrorName: c.code.Name,
				ErrorType: string(c.code.Type),
				FailureInfo: &protocol.FailureInfo{
					Type:       "io.sluice." + c.code.Name,
					Message:    c.wantMsg,
					Suppressed: []protocol.FailureInfo{},
					Stack:      []string{},
				},
			}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("NewError\n got %+v (%+v)\nwant %+v (%+v)", e, e.FailureInfo, want, want.FailureInfo)
			}
			if got := e.Error(); got != c.code.Name+": "+c.wantMsg {
				t.Errorf("Error() = %q", got)
			}
			var err error = e
			var qe *protocol.QueryError
			if !errors.As(err, &qe) || qe.ErrorCode != c.code.Code {
				t.Errorf("errors.As did not recover the QueryError")
			}

			// Java clients expect the failure lists as [] and the code fields always present.
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, frag := range []string{`"suppressed":[]`, `"stack":[]`, `"errorCode":`, `"errorName":"` + c.code.Name + `"`, `"errorType":"` + string(c.code.Type) + `"`} {
				if !strings.Contains(string(b), frag) {
					t.Errorf("JSON %s lacks %s", b, frag)
				}
			}
			if strings.Contains(string(b), "errorLocation") {
				t.Errorf("JSON %s has an errorLocation nobody set", b)
			}
		})
	}
}

// TestErrorCatalogue checks that codes and names are unique, that every type falls into
// the code range Trino reserves for it, and that Sluice's own codes sit in the external range.
func TestErrorCatalogue(t *testing.T) {
	t.Parallel()
	catalogue := []protocol.ErrorCode{
		protocol.GenericUserError, protocol.SyntaxError, protocol.AbandonedQuery, protocol.UserCanceled,
		protocol.PermissionDenied, protocol.NotFound, protocol.FunctionNotFound, protocol.InvalidFunctionArg,
		protocol.DivisionByZero, protocol.InvalidCastArgument, protocol.NotSupported, protocol.InvalidSessionProp,
		protocol.ConstraintViolation, protocol.NumericOutOfRange, protocol.SubqueryMultipleRows, protocol.QueryRejected,
		protocol.QueryTextTooLarge, protocol.AdministrativelyKilled, protocol.TypeNotFound, protocol.CatalogNotFound,
		protocol.SchemaNotFound, protocol.TableNotFound, protocol.ColumnNotFound, protocol.TypeMismatch,
		protocol.GenericInternalError, protocol.ServerShuttingDown,
		protocol.GenericInsufficientResources, protocol.ExceededMemoryLimit, protocol.QueryQueueFull, protocol.ExceededTimeLimit,
		protocol.SluiceClusterLost, protocol.SluiceBackendError, protocol.SluiceDispatchFailed,
	}
	ranges := map[protocol.ErrorType][2]int{
		protocol.UserError:             {0, 0x1_0000},
		protocol.InternalError:         {0x1_0000, 0x2_0000},
		protocol.InsufficientResources: {0x2_0000, 0x3_0000},
		protocol.External:              {0x0100_0000, 1 << 31},
	}
	codes, names := map[int]string{}, map[string]bool{}
	for _, c := range catalogue {
		if prev, dup := codes[c.Code]; dup {
			t.Errorf("code %d used by %s and %s", c.Code, prev, c.Name)
		}
		codes[c.Code] = c.Name
		if names[c.Name] {
			t.Errorf("name %s used twice", c.Name)
		}
		names[c.Name] = true
		r, ok := ranges[c.Type]
		if !ok {
			t.Errorf("%s has unknown type %q", c.Name, c.Type)
			continue
		}
		if c.Code < r[0] || c.Code >= r[1] {
			t.Errorf("%s code %#x outside the %s range [%#x, %#x)", c.Name, c.Code, c.Type, r[0], r[1])
		}
		if c.Name == "" || strings.ToUpper(c.Name) != c.Name {
			t.Errorf("name %q is not an upper-case identifier", c.Name)
		}
	}
	for _, c := range []protocol.ErrorCode{protocol.SluiceClusterLost, protocol.SluiceBackendError, protocol.SluiceDispatchFailed} {
		if c.Type != protocol.External || !strings.HasPrefix(c.Name, "SLUICE_") {
			t.Errorf("Sluice code %+v must be EXTERNAL and named SLUICE_*", c)
		}
	}
}

func TestQueuedStats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		queued, elapsed int64
	}{
		{0, 0},
		{1500, 1700},
		{1 << 40, 1<<40 + 1},
	}
	for _, c := range cases {
		got := protocol.QueuedStats(c.queued, c.elapsed)
		want := protocol.StatementStats{State: protocol.StateQueued, Queued: true, QueuedTimeMillis: c.queued, ElapsedTimeMillis: c.elapsed}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("QueuedStats(%d, %d) = %+v, want %+v", c.queued, c.elapsed, got, want)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["state"] != "QUEUED" || m["queued"] != true || m["scheduled"] != false {
			t.Errorf("JSON %s: want state QUEUED, queued true, scheduled false", b)
		}
		if _, ok := m["sluiceQueuedReason"]; ok {
			t.Errorf("JSON %s: empty queued reason must be omitted", b)
		}
		if _, ok := m["progressPercentage"]; ok {
			t.Errorf("JSON %s: progress must be omitted while queued", b)
		}
	}
}
