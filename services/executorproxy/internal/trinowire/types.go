package trinowire

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Trino type-signature argument kinds, as ClientTypeSignatureParameter writes them.
const (
	kindLong      = "LONG"
	kindType      = "TYPE"
	kindNamedType = "NAMED_TYPE"
)

// unboundedVarcharLength is the length argument Trino gives an unbounded varchar.
const unboundedVarcharLength = 2147483647

// typeKind is the DuckDB logical type of a (possibly nested) result value.
type typeKind int

const (
	kBoolean typeKind = iota
	kTinyint
	kSmallint
	kInteger
	kBigint
	kUTinyint
	kUSmallint
	kUInteger
	kUBigint
	kHugeint
	kUHugeint
	kFloat
	kDouble
	kDecimal
	kVarchar
	kEnum
	kJSON
	kBlob
	kUUID
	kDate
	kTime
	kTimeTZ
	kTimestamp // precision holds the fractional digits: 0, 3, 6 or 9
	kTimestampTZ
	kInterval
	kList
	kStruct
	kMap
	kUnion
	kNull
)

// duckType is a parsed DuckDB type name.
type duckType struct {
	kind      typeKind
	precision int // DECIMAL width, or TIMESTAMP fractional digits
	scale     int // DECIMAL scale
	elem      *duckType
	key       *duckType
	value     *duckType
	fields    []duckField // STRUCT fields or UNION members
}

// duckField is one STRUCT field or UNION member.
type duckField struct {
	name string
	typ  *duckType
}

// scalarTypes maps DuckDB's scalar type names (and the common aliases typeof() and the
// SQL parser accept) to their kind and, for timestamps, precision.
var scalarTypes = map[string]duckType{
	"BOOLEAN": {kind: kBoolean}, "BOOL": {kind: kBoolean}, "LOGICAL": {kind: kBoolean},
	"TINYINT": {kind: kTinyint}, "INT1": {kind: kTinyint},
	"SMALLINT": {kind: kSmallint}, "INT2": {kind: kSmallint}, "SHORT": {kind: kSmallint},
	"INTEGER": {kind: kInteger}, "INT": {kind: kInteger}, "INT4": {kind: kInteger}, "SIGNED": {kind: kInteger},
	"BIGINT": {kind: kBigint}, "INT8": {kind: kBigint}, "LONG": {kind: kBigint},
	"HUGEINT": {kind: kHugeint}, "INT128": {kind: kHugeint},
	"UTINYINT": {kind: kUTinyint}, "UINT8": {kind: kUTinyint},
	"USMALLINT": {kind: kUSmallint}, "UINT16": {kind: kUSmallint},
	"UINTEGER": {kind: kUInteger}, "UINT32": {kind: kUInteger},
	"UBIGINT": {kind: kUBigint}, "UINT64": {kind: kUBigint},
	"UHUGEINT": {kind: kUHugeint}, "UINT128": {kind: kUHugeint},
	"FLOAT": {kind: kFloat}, "FLOAT4": {kind: kFloat}, "REAL": {kind: kFloat},
	"DOUBLE": {kind: kDouble}, "FLOAT8": {kind: kDouble}, "DOUBLE PRECISION": {kind: kDouble},
	"VARCHAR": {kind: kVarchar}, "STRING": {kind: kVarchar}, "TEXT": {kind: kVarchar}, "CHAR": {kind: kVarchar},
	"BPCHAR": {kind: kVarchar}, "NVARCHAR": {kind: kVarchar},
	"ENUM": {kind: kEnum},
	"JSON": {kind: kJSON},
	"BLOB": {kind: kBlob}, "BYTEA": {kind: kBlob}, "BINARY": {kind: kBlob}, "VARBINARY": {kind: kBlob},
	"UUID":                        {kind: kUUID},
	"DATE":                        {kind: kDate},
	"TIME":                        {kind: kTime},
	"TIME WITHOUT TIME ZONE":      {kind: kTime},
	"TIMETZ":                      {kind: kTimeTZ},
	"TIME WITH TIME ZONE":         {kind: kTimeTZ},
	"TIMESTAMP":                   {kind: kTimestamp, precision: 6},
	"DATETIME":                    {kind: kTimestamp, precision: 6},
	"TIMESTAMP_US":                {kind: kTimestamp, precision: 6},
	"TIMESTAMP WITHOUT TIME ZONE": {kind: kTimestamp, precision: 6},
	"TIMESTAMP_S":                 {kind: kTimestamp, precision: 0},
	"TIMESTAMP_MS":                {kind: kTimestamp, precision: 3},
	"TIMESTAMP_NS":                {kind: kTimestamp, precision: 9},
	"TIMESTAMPTZ":                 {kind: kTimestampTZ},
	"TIMESTAMP_TZ":                {kind: kTimestampTZ},
	"TIMESTAMP WITH TIME ZONE":    {kind: kTimestampTZ},
	"INTERVAL":                    {kind: kInterval},
	"SQLNULL":                     {kind: kNull},
	"NULL":                        {kind: kNull},
}

// Columns maps the column types of a DuckDB result, as returned by rows.ColumnTypes(), to
// the column descriptions a Trino coordinator sends: the column name, the display type
// name (such as "decimal(15,2)" or "row(a integer, b varchar)") and the structured type
// signature. The mapping is documented in the package comment.
//
// A column whose DuckDB type cannot be returned to Trino clients (BIT, BIGNUM, or a type
// the DuckDB driver does not name) yields a *protocol.QueryError with code NOT_SUPPORTED.
func Columns(cts []*sql.ColumnType) ([]protocol.Column, error) {
	cols := make([]protocol.Column, len(cts))
	for i, ct := range cts {
		t, err := parseColumnType(ct)
		if err != nil {
			return nil, err
		}
		name, sig := trinoType(t)
		cols[i] = protocol.Column{Name: ct.Name(), Type: name, TypeSignature: sig}
	}
	return cols, nil
}

// parseColumnType parses the DuckDB type name of one result column.
func parseColumnType(ct *sql.ColumnType) (*duckType, error) {
	dbName := ct.DatabaseTypeName()
	t, err := parseDuckType(dbName)
	if err != nil {
		return nil, protocol.NewError(protocol.NotSupported,
			"Column '%s' has DuckDB type %q, which cannot be returned to Trino clients: %v", ct.Name(), dbName, err)
	}
	return t, nil
}

// parseDuckType parses a DuckDB type name such as "DECIMAL(15,2)", "INTEGER[]",
// `STRUCT("a" INTEGER, "b" VARCHAR)[3]` or "MAP(VARCHAR, INTEGER)".
func parseDuckType(s string) (*duckType, error) {
	p := typeParser{s: s}
	t, err := p.parseType()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the type", p.s[p.pos:])
	}
	return t, nil
}

// typeParser is a recursive-descent parser over a DuckDB type name.
type typeParser struct {
	s   string
	pos int
}

func (p *typeParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *typeParser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *typeParser) expect(c byte) error {
	if p.peek() != c {
		if p.pos >= len(p.s) {
			return fmt.Errorf("expected %q at the end of the type", c)
		}
		return fmt.Errorf("expected %q at %q", c, p.s[p.pos:])
	}
	p.pos++
	return nil
}

// parseType parses one type with any array suffixes.
func (p *typeParser) parseType() (*duckType, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune("()[],\"", rune(p.s[p.pos])) {
		p.pos++
	}
	name := strings.ToUpper(strings.Join(strings.Fields(p.s[start:p.pos]), " "))
	if name == "" {
		return nil, fmt.Errorf("missing type name at %q", p.s[start:])
	}

	var t *duckType
	switch name {
	case "STRUCT", "ROW", "UNION":
		fields, err := p.parseFields()
		if err != nil {
			return nil, err
		}
		kind := kStruct
		if name == "UNION" {
			kind = kUnion
		}
		t = &duckType{kind: kind, fields: fields}
	case "MAP":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		key, err := p.parseType()
		if err != nil {
			return nil, err
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
		value, err := p.parseType()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		t = &duckType{kind: kMap, key: key, value: value}
	case "LIST":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		elem, err := p.parseType()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		t = &duckType{kind: kList, elem: elem}
	case "DECIMAL", "NUMERIC":
		t = &duckType{kind: kDecimal, precision: 18, scale: 3} // DuckDB's default DECIMAL
		if p.peek() == '(' {
			args, err := p.parseIntArgs()
			if err != nil {
				return nil, err
			}
			if len(args) < 1 || len(args) > 2 || args[0] < 1 || args[0] > 38 {
				return nil, fmt.Errorf("invalid DECIMAL arguments %v", args)
			}
			t.precision, t.scale = args[0], 0
			if len(args) == 2 {
				t.scale = args[1]
			}
			if t.scale < 0 || t.scale > t.precision {
				return nil, fmt.Errorf("invalid DECIMAL scale %d", t.scale)
			}
		}
	default:
		scalar, ok := scalarTypes[name]
		if !ok {
			return nil, fmt.Errorf("unsupported type %s", name)
		}
		t = &scalar
		if p.peek() == '(' { // VARCHAR(10), ENUM('a', 'b'), …: the arguments do not matter
			if err := p.skipParens(); err != nil {
				return nil, err
			}
		}
	}

	for p.peek() == '[' {
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if err := p.expect(']'); err != nil {
			return nil, err
		}
		t = &duckType{kind: kList, elem: t}
	}
	return t, nil
}

// parseFields parses "(name type, …)" of a STRUCT or UNION.
func (p *typeParser) parseFields() ([]duckField, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	var fields []duckField
	for {
		name, err := p.parseFieldName()
		if err != nil {
			return nil, err
		}
		typ, err := p.parseType()
		if err != nil {
			return nil, err
		}
		fields = append(fields, duckField{name: name, typ: typ})
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return fields, nil
		default:
			return nil, fmt.Errorf("expected ',' or ')' in field list at %q", p.s[p.pos:])
		}
	}
}

// parseFieldName parses a field name: a "quoted" identifier with "" escapes, or a bare word.
func (p *typeParser) parseFieldName() (string, error) {
	if p.peek() == '"' {
		p.pos++
		var b strings.Builder
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			p.pos++
			if c != '"' {
				b.WriteByte(c)
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == '"' {
				b.WriteByte('"')
				p.pos++
				continue
			}
			return b.String(), nil
		}
		return "", fmt.Errorf("unterminated quoted field name")
	}
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune(" \t\n()[],\"", rune(p.s[p.pos])) {
		p.pos++
	}
	if p.pos == start {
		return "", fmt.Errorf("missing field name at %q", p.s[start:])
	}
	return p.s[start:p.pos], nil
}

// parseIntArgs parses "(n, m, …)".
func (p *typeParser) parseIntArgs() ([]int, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	var args []int
	for {
		p.skipSpace()
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil {
			return nil, fmt.Errorf("expected a number at %q", p.s[start:])
		}
		args = append(args, n)
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return args, nil
		default:
			return nil, fmt.Errorf("expected ',' or ')' at %q", p.s[p.pos:])
		}
	}
}

// skipParens skips a balanced parenthesised argument list, honouring 'quoted' and
// "quoted" strings.
func (p *typeParser) skipParens() error {
	depth := 0
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return nil
			}
		case '\'', '"':
			for p.pos < len(p.s) {
				d := p.s[p.pos]
				p.pos++
				if d == c {
					if p.pos < len(p.s) && p.s[p.pos] == c {
						p.pos++
						continue
					}
					break
				}
			}
		}
	}
	return fmt.Errorf("unbalanced parentheses")
}

// trinoType returns the Trino display name and type signature of a DuckDB type.
func trinoType(t *duckType) (string, protocol.TypeSignature) {
	switch t.kind {
	case kBoolean:
		return simple("boolean")
	case kTinyint:
		return simple("tinyint")
	case kSmallint, kUTinyint:
		return simple("smallint")
	case kInteger, kUSmallint:
		return simple("integer")
	case kBigint, kUInteger:
		return simple("bigint")
	case kUBigint:
		return decimalType(20, 0)
	case kHugeint, kUHugeint:
		return decimalType(38, 0)
	case kFloat:
		return simple("real")
	case kDouble:
		return simple("double")
	case kDecimal:
		return decimalType(t.precision, t.scale)
	case kVarchar, kEnum:
		return "varchar", signature("varchar", longArg(unboundedVarcharLength))
	case kJSON:
		return simple("json")
	case kBlob:
		return simple("varbinary")
	case kUUID:
		return simple("uuid")
	case kDate:
		return simple("date")
	case kTime:
		return "time(6)", signature("time", longArg(6))
	case kTimeTZ:
		return "time(6) with time zone", signature("time with time zone", longArg(6))
	case kTimestamp:
		return fmt.Sprintf("timestamp(%d)", t.precision), signature("timestamp", longArg(t.precision))
	case kTimestampTZ:
		return "timestamp(6) with time zone", signature("timestamp with time zone", longArg(6))
	case kInterval:
		return simple("interval day to second")
	case kList:
		name, sig := trinoType(t.elem)
		return "array(" + name + ")", signature("array", protocol.TypeArgument{Kind: kindType, Value: sig})
	case kMap:
		keyName, keySig := trinoType(t.key)
		valueName, valueSig := trinoType(t.value)
		return "map(" + keyName + ", " + valueName + ")", signature("map",
			protocol.TypeArgument{Kind: kindType, Value: keySig},
			protocol.TypeArgument{Kind: kindType, Value: valueSig})
	case kStruct, kUnion:
		var b strings.Builder
		args := make([]protocol.TypeArgument, len(t.fields))
		b.WriteString("row(")
		for i, f := range t.fields {
			name, sig := trinoType(f.typ)
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.name)
			b.WriteByte(' ')
			b.WriteString(name)
			args[i] = protocol.TypeArgument{Kind: kindNamedType, Value: protocol.NamedTypeSignature{
				FieldName:     &protocol.RowFieldName{Name: f.name},
				TypeSignature: sig,
			}}
		}
		b.WriteByte(')')
		return b.String(), signature("row", args...)
	case kNull:
		return simple("unknown")
	}
	panic(fmt.Sprintf("trinowire: unhandled type kind %d", t.kind))
}

func simple(name string) (string, protocol.TypeSignature) {
	return name, signature(name)
}

func decimalType(precision, scale int) (string, protocol.TypeSignature) {
	return fmt.Sprintf("decimal(%d,%d)", precision, scale), signature("decimal", longArg(precision), longArg(scale))
}

func signature(raw string, args ...protocol.TypeArgument) protocol.TypeSignature {
	if args == nil {
		args = []protocol.TypeArgument{}
	}
	return protocol.TypeSignature{RawType: raw, Arguments: args}
}

func longArg(n int) protocol.TypeArgument {
	return protocol.TypeArgument{Kind: kindLong, Value: int64(n)}
}
