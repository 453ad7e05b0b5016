// Package substraitplan decodes Substrait plans as clients and producers send them: proto3
// JSON or binary protobuf, chosen by content type, with the extension URIs of older
// producers (Isthmus among them) migrated to the URNs that current Substrait and
// substrait-go v8 use. It does not validate the plan's relations; the fragmenter does.
package substraitplan

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Content types Decode understands; parameters (charset, ...) are ignored.
const (
	// ContentTypeJSON is a proto3 JSON plan. Any "+json" media type is JSON too.
	ContentTypeJSON = "application/json"
	// ContentTypeProtobuf is a binary protobuf plan. "application/protobuf",
	// "application/octet-stream" and any "+protobuf" or "+proto" media type are too.
	ContentTypeProtobuf = "application/x-protobuf"
	// ContentTypeSubstrait is the binary plan's Substrait-specific media type.
	ContentTypeSubstrait = "application/vnd.substrait.plan+protobuf"
)

// MaxPlanSize bounds the bytes Decode accepts.
const MaxPlanSize = 32 << 20

// Sentinels; every error of this package is an *Error wrapping one of them.
var (
	// ErrMalformed: the bytes are not a Substrait plan in the encoding given.
	ErrMalformed = errors.New("malformed Substrait plan")
	// ErrUnsupported: the content type or the size is not accepted.
	ErrUnsupported = errors.New("unsupported Substrait plan")
)

// Error is a plan that cannot be decoded; Path names the field concerned, if any.
type Error struct {
	Kind   error
	Path   string
	Detail string
	Cause  error
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Path != "" {
		s += " at " + e.Path
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func malformed(path, format string, args ...any) *Error {
	return &Error{Kind: ErrMalformed, Path: path, Detail: fmt.Sprintf(format, args...)}
}

// Decode reads a plan. contentType selects the encoding (see the ContentType constants);
// an empty content type sniffs it (JSON starts with '{'). Legacy extension URIs are
// migrated to URNs, in JSON and in binary (where they arrive as unknown fields).
func Decode(data []byte, contentType string) (*substraitpb.Plan, error) {
	if len(data) > MaxPlanSize {
		return nil, &Error{Kind: ErrUnsupported, Detail: fmt.Sprintf("plan of %d bytes exceeds the %d byte limit", len(data), MaxPlanSize)}
	}
	isJSON, err := IsJSON(contentType, data)
	if err != nil {
		return nil, err
	}
	var p substraitpb.Plan
	if isJSON {
		migrated, err := migrateJSON(data)
		if err != nil {
			return nil, err
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(migrated, &p); err != nil {
			return nil, &Error{Kind: ErrMalformed, Detail: "cannot decode the JSON plan", Cause: err}
		}
		return &p, nil
	}
	if err := proto.Unmarshal(data, &p); err != nil {
		return nil, &Error{Kind: ErrMalformed, Detail: "cannot decode the protobuf plan", Cause: err}
	}
	if err := migrateBinary(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// IsJSON reports whether contentType (or, when it is empty, the data) is JSON.
func IsJSON(contentType string, data []byte) (bool, error) {
	if strings.TrimSpace(contentType) == "" {
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		return len(trimmed) > 0 && trimmed[0] == '{', nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, &Error{Kind: ErrUnsupported, Detail: fmt.Sprintf("content type %q: %v", contentType, err)}
	}
	switch {
	case mt == ContentTypeJSON || strings.HasSuffix(mt, "+json"):
		return true, nil
	case mt == ContentTypeProtobuf || mt == "application/protobuf" || mt == "application/octet-stream" ||
		strings.HasSuffix(mt, "+protobuf") || strings.HasSuffix(mt, "+proto"):
		return false, nil
	}
	return false, &Error{Kind: ErrUnsupported, Detail: fmt.Sprintf("content type %q is neither JSON nor protobuf", contentType)}
}
