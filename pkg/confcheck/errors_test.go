package confcheck

import (
	"errors"
	"fmt"
	"testing"
)

var errTest = errors.New("invalid test configuration")

func TestFieldError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fe   FieldError
		want string
	}{
		{FieldError{Path: "rules[2].user", Message: "must not be empty"}, "rules[2].user: must not be empty"},
		{FieldError{Message: "invalid JSON: empty document"}, "invalid JSON: empty document"},
	}
	for _, tt := range tests {
		if got := tt.fe.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.fe, got, tt.want)
		}
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	errs := []FieldError{{Path: "a", Message: "x"}, {Message: "y"}, {Path: "b[0]", Message: "z"}}
	var err error = fmt.Errorf("load: %w", NewValidationError(errTest, errs))
	if got, want := err.Error(), "load: a: x; y; b[0]: z"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, errTest) {
		t.Error("errors.Is(err, errTest) = false")
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 3 {
		t.Fatalf("errors.As: %v %+v", err, ve)
	}
	if errors.Is(NewValidationError(nil, errs), errTest) {
		t.Error("a ValidationError without a kind is errTest")
	}
	if got := (&ValidationError{Errors: errs[1:2]}).Unwrap(); got != nil {
		t.Errorf("Unwrap() of a literal = %v, want nil", got)
	}
}

func TestPaths(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{Join("", "name"), "name"},
		{Join("profiles[0]", "name"), "profiles[0].name"},
		{Join("a.b", "c"), "a.b.c"},
		{Index("rules", 2), "rules[2]"},
		{Index(Join("p", "scores"), 10), "p.scores[10]"},
		{Index("", 0), "[0]"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		err  error
		want FieldError
	}{
		{"plain error", "rules[0]", errors.New(`unknown field "x"`), FieldError{Path: "rules[0]", Message: `unknown field "x"`}},
		{"plain error at the top", "", errors.New("invalid JSON: empty document"), FieldError{Message: "invalid JSON: empty document"}},
		{"field error", "rules[1]", FieldError{Path: "group", Message: "expected a string, got number"},
			FieldError{Path: "rules[1].group", Message: "expected a string, got number"}},
		{"field error at the top", "", FieldError{Path: "group", Message: "m"}, FieldError{Path: "group", Message: "m"}},
		{"field error without a path", "rules[1]", FieldError{Message: "expected an object, got null"},
			FieldError{Path: "rules[1]", Message: "expected an object, got null"}},
		{"wrapped field error", "pluginArgs.Healthy", fmt.Errorf("bad: %w", FieldError{Path: "heartbeatTimeout", Message: "must be positive"}),
			FieldError{Path: "pluginArgs.Healthy.heartbeatTimeout", Message: "must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Locate(tt.path, tt.err); got != tt.want {
				t.Errorf("Locate(%q, %v) = %#v, want %#v", tt.path, tt.err, got, tt.want)
			}
		})
	}
}
