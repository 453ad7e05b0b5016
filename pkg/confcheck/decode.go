package confcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DecodeStrict decodes exactly one JSON value from data into v, rejecting unknown object
// fields and trailing data. A null document is an error too, since decoding it would leave
// v as it was. Errors read without the "json: " prefix and without Go type names:
//
//   - a value of the wrong type is a FieldError whose Path is the field inside v ("" for
//     v itself), e.g. {Path: "scores", Message: "expected an array, got object"};
//   - a syntax error reads "invalid JSON: <message>" and wraps the *json.SyntaxError,
//     whose Offset says where;
//   - others: "invalid JSON: empty document", "invalid JSON: unexpected end of input",
//     "invalid JSON: data after the top-level value", `unknown field "x"`.
//
// Locate places any of them at the path of v in the document.
func DecodeStrict(data []byte, v any) error {
	if t := reflect.TypeOf(v); t != nil && bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return FieldError{Message: "expected " + jsonKind(t) + ", got null"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cleanJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the top-level value")
	}
	return nil
}

// cleanJSONError rewords an error of encoding/json for people who write JSON, not Go.
func cleanJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("invalid JSON: empty document")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of input")
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON: %w", se)
	case errors.As(err, &te):
		return FieldError{Path: te.Field, Message: "expected " + jsonKind(te.Type) + ", got " + te.Value}
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Interface:
		return "a value"
	}
	return "an object"
}
