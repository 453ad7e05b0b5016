package substraitsql

import (
	"errors"
	"strings"

	substraitgo "github.com/substrait-io/substrait-go/v8"
	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// Extensions resolves the function anchors of one plan to the functions its extension
// declarations name (e.g. anchor 3 → "multiply:dec_dec" of
// extension:io.substrait:functions_arithmetic_decimal). The zero value resolves nothing.
type Extensions struct {
	set extensions.Set
}

// NewExtensions reads the extension declarations of p with substrait-go's extension
// collection. Only the standard Substrait extensions are known: a declaration from any
// other extension fails with ErrUnsupported, an unresolvable URN reference with
// ErrInvalidPlan.
func NewExtensions(p *substraitpb.Plan) (Extensions, error) {
	coll, err := extensions.GetDefaultCollection()
	if err != nil {
		return Extensions{}, err
	}
	set, err := extensions.GetExtensionSet(p, coll)
	switch {
	case errors.Is(err, substraitgo.ErrNotFound):
		return Extensions{}, unsupported("extensions", "%v", err)
	case err != nil:
		return Extensions{}, invalid("extensions", "%v", err)
	}
	return Extensions{set: set}, nil
}

// function returns the declaration of a function anchor.
func (e Extensions) function(anchor uint32) (funcName, bool) {
	if e.set == nil {
		return funcName{}, false
	}
	id, ok := e.set.DecodeFunc(anchor)
	if !ok {
		return funcName{}, false
	}
	return parseFuncName(id.Name, id.URN), true
}

// funcName is a declared function: its compound name ("add:i64_i64"), the base name
// ("add"), the argument kinds of its signature (["i64", "i64"]) and its extension URN.
type funcName struct {
	full string
	base string
	sig  []string
	urn  string
}

func parseFuncName(name, urn string) funcName {
	f := funcName{full: name, base: name, urn: urn}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		f.base = name[:i]
		if rest := name[i+1:]; rest != "" {
			f.sig = strings.Split(rest, "_")
		}
	}
	return f
}

// argKind is the signature's kind of argument i ("" when the name has no signature).
func (f funcName) argKind(i int) string {
	if i < len(f.sig) {
		return f.sig[i]
	}
	return ""
}
