// Package confcheck reports problems in configuration files by the JSON path of the field
// at fault.
//
// A parser collects FieldErrors ("rules[2].user: invalid regex: …") as it walks a
// document and returns them together in a ValidationError, which unwraps to a sentinel of
// the parser's package so that callers can test it with errors.Is. DecodeStrict decodes
// one JSON value with unknown fields rejected and reports problems without Go type names;
// Locate places such an error at the path of the value decoded. Suggest proposes the
// likely intended name for a misspelt one.
package confcheck
