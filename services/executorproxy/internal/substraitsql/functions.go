package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// call is one function invocation: the declared function, its value arguments already
// rendered, its enum arguments, options and declared output type.
type call struct {
	fn    funcName
	args  []string
	enums []string
	out   *substraitpb.Type
	opts  map[string][]string
	path  string // the invocation's node, for errors
}

// opt is the first preference given for option name ("" when the plan sets none).
func (c *call) opt(name string) string {
	if p := c.opts[name]; len(p) > 0 {
		return strings.ToUpper(p[0])
	}
	return ""
}

// arity checks the number of value arguments (max < 0: no upper bound).
func (c *call) arity(lo, hi int) error {
	if len(c.args) < lo || (hi >= 0 && len(c.args) > hi) {
		return invalid(c.path, "function %q with %d arguments", c.fn.full, len(c.args))
	}
	return nil
}

// newCall renders the arguments of a scalar or aggregate function. argPath is the path
// of the function message (its arguments are argPath.arguments[i]).
func (t *translator) newCall(fn funcName, args []*substraitpb.FunctionArgument, legacy []*substraitpb.Expression,
	opts []*substraitpb.FunctionOption, out *substraitpb.Type, sc *scope, nodePath, argPath string) (*call, error) {
	c := &call{fn: fn, out: out, path: nodePath, opts: map[string][]string{}}
	for _, o := range opts {
		c.opts[strings.ToLower(o.GetName())] = o.GetPreference()
	}
	for i, a := range args {
		p := fmt.Sprintf("%s.arguments[%d]", argPath, i)
		switch v := a.GetArgType().(type) {
		case *substraitpb.FunctionArgument_Value:
			s, err := t.expr(v.Value, sc, p+".value")
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, s)
		case *substraitpb.FunctionArgument_Enum:
			c.enums = append(c.enums, v.Enum)
		case *substraitpb.FunctionArgument_Type:
			// Type arguments only steer overload resolution, which the name already did.
		default:
			return nil, invalid(p, "function argument without a value")
		}
	}
	if len(args) == 0 && len(legacy) > 0 { // the deprecated args field
		vals, err := t.exprs(legacy, sc, argPath+".args")
		if err != nil {
			return nil, err
		}
		c.args = vals
	}
	return c, nil
}

// scalarFunction translates a scalar function call by its declared name.
func (t *translator) scalarFunction(f *substraitpb.Expression_ScalarFunction, sc *scope, path string) (string, error) {
	fn, ok := t.ext.function(f.GetFunctionReference())
	if !ok {
		return "", invalid(path, "function anchor %d is not declared", f.GetFunctionReference())
	}
	impl, ok := scalarFuncs[fn.base]
	if !ok {
		return "", unsupported(path, "function %q", fn.full)
	}
	c, err := t.newCall(fn, f.GetArguments(), legacyScalarArgs(f), f.GetOptions(), f.GetOutputType(), sc, path, path+".scalar_function")
	if err != nil {
		return "", err
	}
	return impl(c)
}

type scalarImpl func(*call) (string, error)

// scalarFuncs maps the base names of the standard Substrait scalar functions to DuckDB.
var scalarFuncs = map[string]scalarImpl{
	// functions_comparison
	"equal":                binary("="),
	"not_equal":            binary("<>"),
	"lt":                   binary("<"),
	"gt":                   binary(">"),
	"lte":                  binary("<="),
	"gte":                  binary(">="),
	"is_distinct_from":     binary("IS DISTINCT FROM"),
	"is_not_distinct_from": binary("IS NOT DISTINCT FROM"),
	"is_null":              postfix("IS NULL"),
	"is_not_null":          postfix("IS NOT NULL"),
	"is_true":              postfix("IS TRUE"),
	"is_not_true":          postfix("IS NOT TRUE"),
	"is_false":             postfix("IS FALSE"),
	"is_not_false":         postfix("IS NOT FALSE"),
	"is_nan":               function("isnan", 1, 1),
	"is_finite":            function("isfinite", 1, 1),
	"is_infinite":          function("isinf", 1, 1),
	"between":              between,
	"coalesce":             function("coalesce", 1, -1),
	"nullif":               function("nullif", 2, 2),
	"least":                strictExtreme("least"),
	"greatest":             strictExtreme("greatest"),
	"least_skip_null":      function("least", 1, -1),
	"greatest_skip_null":   function("greatest", 1, -1),

	// functions_boolean
	"and":     variadic("AND"),
	"or":      variadic("OR"),
	"not":     prefix("NOT "),
	"xor":     binary("<>"),
	"and_not": andNot,

	// functions_arithmetic, functions_arithmetic_decimal
	"add":         dateArith("+"),
	"subtract":    dateArith("-"),
	"multiply":    binary("*"),
	"divide":      divide,
	"modulus":     binary("%"),
	"negate":      prefix("- "),
	"abs":         function("abs", 1, 1),
	"sign":        function("sign", 1, 1),
	"power":       toOutput(function("power", 2, 2)),
	"sqrt":        toOutput(function("sqrt", 1, 1)),
	"exp":         toOutput(function("exp", 1, 1)),
	"ln":          toOutput(function("ln", 1, 1)),
	"log10":       toOutput(function("log10", 1, 1)),
	"log2":        toOutput(function("log2", 1, 1)),
	"logb":        logb,
	"ceil":        function("ceil", 1, 1),
	"floor":       function("floor", 1, 1),
	"round":       function("round", 1, 2),
	"sin":         toOutput(function("sin", 1, 1)),
	"cos":         toOutput(function("cos", 1, 1)),
	"tan":         toOutput(function("tan", 1, 1)),
	"asin":        toOutput(function("asin", 1, 1)),
	"acos":        toOutput(function("acos", 1, 1)),
	"atan":        toOutput(function("atan", 1, 1)),
	"atan2":       toOutput(function("atan2", 2, 2)),
	"sinh":        toOutput(function("sinh", 1, 1)),
	"cosh":        toOutput(function("cosh", 1, 1)),
	"tanh":        toOutput(function("tanh", 1, 1)),
	"asinh":       toOutput(function("asinh", 1, 1)),
	"acosh":       toOutput(function("acosh", 1, 1)),
	"atanh":       toOutput(function("atanh", 1, 1)),
	"radians":     toOutput(function("radians", 1, 1)),
	"degrees":     toOutput(function("degrees", 1, 1)),
	"factorial":   toOutput(function("factorial", 1, 1)),
	"bitwise_and": binary("&"),
	"bitwise_or":  binary("|"),
	"bitwise_xor": function("xor", 2, 2),
	"bitwise_not": prefix("~"),
	"shift_left":  binary("<<"),
	"shift_right": binary(">>"),

	// functions_string
	"concat":       concat,
	"like":         like,
	"substring":    function("substring", 2, 3),
	"upper":        function("upper", 1, 1),
	"lower":        function("lower", 1, 1),
	"trim":         function("trim", 1, 2),
	"ltrim":        function("ltrim", 1, 2),
	"rtrim":        function("rtrim", 1, 2),
	"char_length":  function("length", 1, 1),
	"bit_length":   function("bit_length", 1, 1),
	"octet_length": function("strlen", 1, 1),
	"strpos":       function("strpos", 2, 2),
	"contains":     function("contains", 2, 2),
	"starts_with":  function("starts_with", 2, 2),
	"ends_with":    function("ends_with", 2, 2),
	"replace":      function("replace", 3, 3),
	"reverse":      function("reverse", 1, 1),
	"repeat":       function("repeat", 2, 2),
	"lpad":         function("lpad", 3, 3),
	"rpad":         function("rpad", 3, 3),
	"left":         function("left", 2, 2),
	"right":        function("right", 2, 2),
	"concat_ws":    function("concat_ws", 2, -1),
	"string_split": function("string_split", 2, 2),

	// functions_datetime
	"extract": extract,
}

// binary renders "(a op b)".
func binary(op string) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(2, 2); err != nil {
			return "", err
		}
		return "(" + c.args[0] + " " + op + " " + c.args[1] + ")", nil
	}
}

// variadic renders "(a op b op c …)".
func variadic(op string) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(1, -1); err != nil {
			return "", err
		}
		return "(" + strings.Join(c.args, " "+op+" ") + ")", nil
	}
}

func prefix(op string) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(1, 1); err != nil {
			return "", err
		}
		return "(" + op + c.args[0] + ")", nil
	}
}

func postfix(op string) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(1, 1); err != nil {
			return "", err
		}
		return "(" + c.args[0] + " " + op + ")", nil
	}
}

// function renders a DuckDB function call with lo..hi arguments (hi < 0: any number).
func function(name string, lo, hi int) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(lo, hi); err != nil {
			return "", err
		}
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = unparen(a)
		}
		return name + "(" + strings.Join(args, ", ") + ")", nil
	}
}

// toOutput casts the result to the declared output type where DuckDB's result type is of
// another kind: these functions give DOUBLE in DuckDB, while Substrait declares a decimal
// or integer result for decimal or integer arguments.
func toOutput(impl scalarImpl) scalarImpl {
	return func(c *call) (string, error) {
		s, err := impl(c)
		if err != nil {
			return "", err
		}
		return castTo(s, c.out, c.path)
	}
}

// castTo casts s to an exact numeric type t (decimal or integer); other types leave s
// as it is.
func castTo(s string, t *substraitpb.Type, path string) (string, error) {
	if t.GetDecimal() == nil && !isIntegerType(t) {
		return s, nil
	}
	typ, err := sqlType(t, path+".output_type")
	if err != nil {
		return "", err
	}
	return "CAST(" + unparen(s) + " AS " + typ + ")", nil
}

func between(c *call) (string, error) {
	if err := c.arity(3, 3); err != nil {
		return "", err
	}
	return "(" + c.args[0] + " BETWEEN " + c.args[1] + " AND " + c.args[2] + ")", nil
}

// strictExtreme is least/greatest in Substrait's form, NULL when any argument is NULL
// (DuckDB's least and greatest skip NULLs).
func strictExtreme(name string) scalarImpl {
	return func(c *call) (string, error) {
		if err := c.arity(1, -1); err != nil {
			return "", err
		}
		nulls := make([]string, len(c.args))
		for i, a := range c.args {
			nulls[i] = a + " IS NULL"
		}
		return "CASE WHEN " + strings.Join(nulls, " OR ") + " THEN NULL ELSE " + name + "(" + strings.Join(c.args, ", ") + ") END", nil
	}
}

func andNot(c *call) (string, error) {
	if err := c.arity(2, 2); err != nil {
		return "", err
	}
	return "(" + c.args[0] + " AND (NOT " + c.args[1] + "))", nil
}

// dateArith adds or subtracts; a date result is cast back to DATE because DuckDB's
// date ± interval gives a TIMESTAMP.
func dateArith(op string) scalarImpl {
	return func(c *call) (string, error) {
		s, err := binary(op)(c)
		if err != nil {
			return "", err
		}
		if c.out.GetDate() != nil {
			return "CAST(" + unparen(s) + " AS DATE)", nil
		}
		return s, nil
	}
}

// divide is integer division (truncating, DuckDB's //) for integer results; otherwise
// DuckDB divides in DOUBLE, cast back to a declared decimal type.
func divide(c *call) (string, error) {
	if err := c.arity(2, 2); err != nil {
		return "", err
	}
	intArgs := isIntKind(c.fn.argKind(0)) && isIntKind(c.fn.argKind(1))
	if isIntegerType(c.out) || (c.out == nil && intArgs) {
		return "(" + c.args[0] + " // " + c.args[1] + ")", nil
	}
	return castTo("("+c.args[0]+" / "+c.args[1]+")", c.out, c.path)
}

func isIntKind(k string) bool {
	switch k {
	case "i8", "i16", "i32", "i64":
		return true
	}
	return false
}

// logb(x, base) is DuckDB's log(base, x).
func logb(c *call) (string, error) {
	if err := c.arity(2, 2); err != nil {
		return "", err
	}
	return castTo("log("+unparen(c.args[1])+", "+unparen(c.args[0])+")", c.out, c.path)
}

// concat joins strings; NULL makes the result NULL unless the null_handling option asks
// to ignore NULLs.
func concat(c *call) (string, error) {
	if err := c.arity(1, -1); err != nil {
		return "", err
	}
	if c.opt("null_handling") == "IGNORE_NULLS" {
		return function("concat", 1, -1)(c)
	}
	if len(c.args) == 1 {
		return c.args[0], nil
	}
	return "(" + strings.Join(c.args, " || ") + ")", nil
}

func like(c *call) (string, error) {
	if err := c.arity(2, 2); err != nil {
		return "", err
	}
	op := "LIKE"
	if strings.HasPrefix(c.opt("case_sensitivity"), "CASE_INSENSITIVE") {
		op = "ILIKE"
	}
	return "(" + c.args[0] + " " + op + " " + c.args[1] + ")", nil
}

// extract reads a date or time component, named by the first enum argument; the day of
// the week also takes an indexing enum (ONE or ZERO).
func extract(c *call) (string, error) {
	if err := c.arity(1, 1); err != nil {
		return "", err
	}
	if len(c.enums) == 0 {
		return "", invalid(c.path, "extract without a component")
	}
	x := unparen(c.args[0])
	indexing := "ONE"
	if len(c.enums) > 1 {
		indexing = strings.ToUpper(c.enums[1])
	}
	part := func(p string) string { return "extract(" + p + " FROM " + x + ")" }
	switch comp := strings.ToUpper(c.enums[0]); comp {
	case "YEAR", "QUARTER", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND":
		return part(strings.ToLower(comp)), nil
	case "ISO_YEAR":
		return part("isoyear"), nil
	case "DAY_OF_YEAR":
		return part("doy"), nil
	case "ISO_WEEK":
		return part("week"), nil
	case "MILLISECOND":
		return "(" + part("millisecond") + " % 1000)", nil
	case "MICROSECOND":
		return "(" + part("microsecond") + " % 1000000)", nil
	case "MONDAY_DAY_OF_WEEK":
		if indexing == "ZERO" {
			return "(" + part("isodow") + " - 1)", nil
		}
		return part("isodow"), nil
	case "SUNDAY_DAY_OF_WEEK":
		if indexing == "ZERO" {
			return part("dow"), nil
		}
		return "(" + part("dow") + " + 1)", nil
	default:
		return "", unsupported(c.path, "extract of %s", comp)
	}
}
