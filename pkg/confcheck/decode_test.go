package confcheck

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testRule is what the tests and FuzzDecodeStrict decode into. It has no map, whose
// iteration order would make the coverage of a fuzz input vary from run to run.
type testRule struct {
	Name   string     `json:"name"`
	Weight *int64     `json:"weight"`
	Ratio  float64    `json:"ratio"`
	On     bool       `json:"on"`
	Tags   []string   `json:"tags"`
	Inner  *testInner `json:"inner"`
}

type testInner struct {
	Port uint16 `json:"port"`
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	var r testRule
	if err := DecodeStrict([]byte(` {"name": "a", "weight": 2, "tags": ["x"], "inner": {"port": 80}} `+"\n"), &r); err != nil {
		t.Fatal(err)
	}
	if r.Name != "a" || r.Weight == nil || *r.Weight != 2 || !reflect.DeepEqual(r.Tags, []string{"x"}) || r.Inner.Port != 80 {
		t.Errorf("decoded %+v", r)
	}
}

func TestDecodeStrictErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json string
		want       FieldError // Locate("rules[0]", err)
	}{
		{"empty document", ``, FieldError{"rules[0]", "invalid JSON: empty document"}},
		{"only spaces", " \n\t", FieldError{"rules[0]", "invalid JSON: empty document"}},
		{"truncated", `{"name": "a"`, FieldError{"rules[0]", "invalid JSON: unexpected end of input"}},
		{"syntax error", `{"name": }`, FieldError{"rules[0]", "invalid JSON: invalid character '}' looking for beginning of value"}},
		{"trailing data", `{} {}`, FieldError{"rules[0]", "invalid JSON: data after the top-level value"}},
		{"trailing garbage", `{}x`, FieldError{"rules[0]", "invalid JSON: data after the top-level value"}},
		{"null", ` null `, FieldError{"rules[0]", "expected an object, got null"}},
		{"not an object", `[1]`, FieldError{"rules[0]", "expected an object, got array"}},
		{"string for an object", `"a"`, FieldError{"rules[0]", "expected an object, got string"}},
		{"unknown field", `{"nmae": "a"}`, FieldError{"rules[0]", `unknown field "nmae"`}},
		{"unknown nested field", `{"inner": {"prot": 1}}`, FieldError{"rules[0]", `unknown field "prot"`}},
		{"string for a string", `{"name": 1}`, FieldError{"rules[0].name", "expected a string, got number"}},
		{"string for an integer", `{"weight": "2"}`, FieldError{"rules[0].weight", "expected an integer, got string"}},
		{"fraction for an integer", `{"weight": 1.5}`, FieldError{"rules[0].weight", "expected an integer, got number 1.5"}},
		{"string for a number", `{"ratio": "x"}`, FieldError{"rules[0].ratio", "expected a number, got string"}},
		{"number for a boolean", `{"on": 1}`, FieldError{"rules[0].on", "expected a boolean, got number"}},
		{"object for an array", `{"tags": {}}`, FieldError{"rules[0].tags", "expected an array, got object"}},
		{"number in an array", `{"tags": ["a", 1]}`, FieldError{"rules[0].tags", "expected a string, got number"}},
		{"nested field", `{"inner": {"port": "80"}}`, FieldError{"rules[0].inner.port", "expected an integer, got string"}},
		{"out of range", `{"inner": {"port": 70000}}`, FieldError{"rules[0].inner.port", "expected an integer, got number 70000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r testRule
			err := DecodeStrict([]byte(tt.json), &r)
			if err == nil {
				t.Fatalf("no error; decoded %+v", r)
			}
			if strings.HasPrefix(err.Error(), "json: ") {
				t.Errorf("error %q has the json: prefix", err)
			}
			if got := Locate("rules[0]", err); got != tt.want {
				t.Errorf("Locate(DecodeStrict(%q)) = %#v, want %#v", tt.json, got, tt.want)
			}
		})
	}
}

func TestDecodeStrictSyntaxOffset(t *testing.T) {
	t.Parallel()
	var r testRule
	err := DecodeStrict([]byte(`{"name": "a",}`), &r)
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset != 14 {
		t.Fatalf("err = %v, want one wrapping a *json.SyntaxError at offset 14", err)
	}
}

func TestDecodeStrictOtherTypes(t *testing.T) {
	t.Parallel()
	var tags []string
	if err := DecodeStrict([]byte(`null`), &tags); err == nil || err.Error() != "expected an array, got null" {
		t.Errorf("null into a slice: err = %v", err)
	}
	var args map[string]string
	if err := DecodeStrict([]byte(`[]`), &args); err == nil || err.Error() != "expected an object, got array" {
		t.Errorf("array into a map: err = %v", err)
	}
	if err := DecodeStrict([]byte(`null`), nil); err == nil || err.Error() != "Unmarshal(nil)" {
		t.Errorf("null into nil: err = %v", err)
	}
}
