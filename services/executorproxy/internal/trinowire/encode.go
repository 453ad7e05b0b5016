package trinowire

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// encodeFunc turns one DuckDB value, as the DuckDB driver returns it, into the value whose
// encoding/json form is what Trino sends for it. It never gets a nil value.
type encodeFunc func(v any) any

// RowEncoder converts DuckDB result rows into Trino's JSON row representation. Build it
// once per result with [NewRowEncoder], pass [RowEncoder.ScanTargets] to rows.Scan for
// each row, then call [RowEncoder.Encode]:
//
//	enc, err := trinowire.NewRowEncoder(cts)
//	for rows.Next() {
//		if err := rows.Scan(enc.ScanTargets()...); err != nil { … }
//		page = append(page, enc.Encode())
//	}
//
// A RowEncoder is not safe for concurrent use.
type RowEncoder struct {
	columns []protocol.Column
	encode  []encodeFunc
	values  []any
	targets []any
}

// NewRowEncoder builds a RowEncoder for a DuckDB result with the given column types (from
// rows.ColumnTypes()). It fails, like [Columns], on types Trino clients cannot receive.
func NewRowEncoder(cts []*sql.ColumnType) (*RowEncoder, error) {
	e := &RowEncoder{
		columns: make([]protocol.Column, len(cts)),
		encode:  make([]encodeFunc, len(cts)),
		values:  make([]any, len(cts)),
		targets: make([]any, len(cts)),
	}
	for i, ct := range cts {
		t, err := parseColumnType(ct)
		if err != nil {
			return nil, err
		}
		name, sig := trinoType(t)
		e.columns[i] = protocol.Column{Name: ct.Name(), Type: name, TypeSignature: sig}
		e.encode[i] = encoderFor(t)
		e.targets[i] = &e.values[i]
	}
	return e, nil
}

// Columns returns the Trino column descriptions of the result, as [Columns] does.
func (e *RowEncoder) Columns() []protocol.Column { return e.columns }

// ScanTargets returns the destinations to pass to rows.Scan. The same slice is returned
// on every call; each Scan overwrites the values that the next [RowEncoder.Encode] reads.
func (e *RowEncoder) ScanTargets() []any { return e.targets }

// Encode returns the most recently scanned row as Trino JSON values: a new slice on each
// call, safe to keep after the next Scan. Its elements are nil, bool, integers, float32 or
// float64 (finite only), strings, []any (arrays and rows) and map[string]any (maps), so
// encoding/json writes exactly what a Trino coordinator writes.
func (e *RowEncoder) Encode() []any {
	return e.EncodeValues(e.values)
}

// EncodeValues encodes one row of values obtained from the DuckDB driver some other way
// (for example driver.Rows.Next); values must hold one value per column.
func (e *RowEncoder) EncodeValues(values []any) []any {
	out := make([]any, len(e.encode))
	for i, enc := range e.encode {
		if i < len(values) && values[i] != nil {
			out[i] = enc(values[i])
		}
	}
	return out
}

// encoderFor returns the encoder for values of a DuckDB type.
func encoderFor(t *duckType) encodeFunc {
	switch t.kind {
	case kBoolean, kTinyint, kSmallint, kInteger, kBigint, kUTinyint, kUSmallint, kUInteger:
		return encodeNumber
	case kUBigint, kHugeint, kUHugeint:
		return encodeWholeDecimal
	case kFloat, kDouble:
		return encodeFloat
	case kDecimal:
		scale := t.scale
		return func(v any) any { return encodeDecimal(v, scale) }
	case kVarchar, kEnum:
		return encodeVarchar
	case kJSON:
		return encodeJSON
	case kBlob:
		return encodeBinary
	case kUUID:
		return encodeUUID
	case kDate:
		return timeEncoder("2006-01-02", false)
	case kTime:
		return timeEncoder("15:04:05.000000", false)
	case kTimeTZ:
		return timeEncoder("15:04:05.000000-07:00", false)
	case kTimestamp:
		layout := "2006-01-02 15:04:05"
		if t.precision > 0 {
			layout += "." + "000000000"[:t.precision]
		}
		return timeEncoder(layout, true)
	case kTimestampTZ:
		format := timeEncoder("2006-01-02 15:04:05.000000", true)
		return func(v any) any {
			if s, ok := format(v).(string); ok {
				return s + " UTC"
			}
			return encodeGeneric(v)
		}
	case kInterval:
		return encodeInterval
	case kList:
		return listEncoder(encoderFor(t.elem))
	case kMap:
		return mapEncoder(encoderFor(t.key), encoderFor(t.value))
	case kStruct:
		return structEncoder(t.fields)
	case kUnion:
		return unionEncoder(t.fields)
	case kNull:
		return func(any) any { return nil }
	}
	return encodeGeneric
}

// encodeNumber passes booleans and integers through: encoding/json writes them as Trino does.
func encodeNumber(v any) any {
	switch v.(type) {
	case bool, int8, int16, int32, int64, int, uint8, uint16, uint32:
		return v
	}
	return encodeGeneric(v)
}

// encodeWholeDecimal encodes UBIGINT, HUGEINT and UHUGEINT values, typed decimal(p,0),
// as decimal strings.
func encodeWholeDecimal(v any) any {
	switch x := v.(type) {
	case uint64:
		return strconv.FormatUint(x, 10)
	case *big.Int:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return encodeGeneric(v)
}

// encodeFloat encodes REAL and DOUBLE values: finite values as numbers (float32 keeps its
// shortest 32-bit form), the others as "NaN", "Infinity" and "-Infinity".
func encodeFloat(v any) any {
	switch x := v.(type) {
	case float64:
		if s, special := nonFinite(x); special {
			return s
		}
		return x
	case float32:
		if s, special := nonFinite(float64(x)); special {
			return s
		}
		return x
	}
	return encodeGeneric(v)
}

func nonFinite(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return "NaN", true
	case math.IsInf(f, 1):
		return "Infinity", true
	case math.IsInf(f, -1):
		return "-Infinity", true
	}
	return "", false
}

// encodeDecimal encodes a DECIMAL value as a plain decimal string with exactly scale
// fractional digits, such as "-0.50".
func encodeDecimal(v any, scale int) any {
	switch x := v.(type) {
	case duckdb.Decimal:
		if x.Value == nil {
			return nil
		}
		return formatDecimal(x.Value, int(x.Scale))
	case *big.Int:
		return formatDecimal(x, scale)
	}
	return encodeGeneric(v)
}

// formatDecimal writes unscaled × 10^-scale in plain notation.
func formatDecimal(unscaled *big.Int, scale int) string {
	var buf [48]byte
	var digitBuf [24]byte
	b := buf[:0]
	neg := unscaled.Sign() < 0
	var digits []byte
	if unscaled.IsInt64() {
		n := unscaled.Int64()
		u := uint64(n)
		if neg {
			u = -u
		}
		digits = strconv.AppendUint(digitBuf[:0], u, 10)
	} else {
		digits = new(big.Int).Abs(unscaled).Append(nil, 10)
	}
	if neg {
		b = append(b, '-')
	}
	if scale <= 0 {
		b = append(b, digits...)
		return string(b)
	}
	if len(digits) <= scale {
		b = append(b, '0', '.')
		for i := len(digits); i < scale; i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
		return string(b)
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	b = append(b, digits[len(digits)-scale:]...)
	return string(b)
}

// encodeVarchar encodes VARCHAR and ENUM values. A JSON value nested in a LIST, STRUCT or
// MAP reaches here already decoded by the driver (DuckDB names its type VARCHAR), so
// anything that is not text is written back as JSON text.
func encodeVarchar(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return jsonText(v)
}

// encodeJSON encodes a JSON value, which the driver returns decoded, as JSON text.
func encodeJSON(v any) any {
	return jsonText(v)
}

// jsonText renders v as compact JSON text without HTML escaping.
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return string(bytes.TrimRight(buf.Bytes(), "\n"))
}

// encodeBinary encodes BLOB values in base64, as Trino sends varbinary.
func encodeBinary(v any) any {
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case string:
		return base64.StdEncoding.EncodeToString([]byte(x))
	}
	return encodeGeneric(v)
}

// encodeUUID encodes a UUID, which the driver returns as 16 bytes, in its canonical form.
func encodeUUID(v any) any {
	switch x := v.(type) {
	case []byte:
		if len(x) == 16 {
			return formatUUID(x)
		}
		return string(x)
	case duckdb.UUID:
		return formatUUID(x[:])
	case *duckdb.UUID:
		return formatUUID(x[:])
	case [16]byte:
		return formatUUID(x[:])
	case string:
		return x
	}
	return encodeGeneric(v)
}

func formatUUID(b []byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}

// timeEncoder formats time.Time values with layout, in UTC when toUTC is set (DuckDB
// returns TIMESTAMP wall-clock values and TIMESTAMPTZ instants in UTC already).
func timeEncoder(layout string, toUTC bool) encodeFunc {
	return func(v any) any {
		t, ok := v.(time.Time)
		if !ok {
			return encodeGeneric(v)
		}
		if toUTC {
			t = t.UTC()
		}
		var buf [64]byte
		return string(t.AppendFormat(buf[:0], layout))
	}
}

// encodeInterval encodes an INTERVAL as Trino's interval day to second, "D HH:MM:SS.mmm",
// counting a month as 30 days as DuckDB itself does when it compares intervals.
func encodeInterval(v any) any {
	iv, ok := v.(duckdb.Interval)
	if !ok {
		if p, isPtr := v.(*duckdb.Interval); isPtr && p != nil {
			iv, ok = *p, true
		}
	}
	if !ok {
		return encodeGeneric(v)
	}
	const microsPerDay = 24 * 60 * 60 * 1_000_000
	days := int64(iv.Months)*30 + int64(iv.Days)
	return formatDayToSecond(days*(microsPerDay/1000) + iv.Micros/1000)
}

// formatDayToSecond formats milliseconds as Trino's IntervalDayTime does.
func formatDayToSecond(millis int64) string {
	sign := ""
	u := uint64(millis)
	if millis < 0 {
		sign = "-"
		u = -u
	}
	const (
		msPerSecond = 1000
		msPerMinute = 60 * msPerSecond
		msPerHour   = 60 * msPerMinute
		msPerDay    = 24 * msPerHour
	)
	day := u / msPerDay
	u %= msPerDay
	hour := u / msPerHour
	u %= msPerHour
	minute := u / msPerMinute
	u %= msPerMinute
	second := u / msPerSecond
	ms := u % msPerSecond
	return fmt.Sprintf("%s%d %02d:%02d:%02d.%03d", sign, day, hour, minute, second, ms)
}

// listEncoder encodes LIST and ARRAY values as JSON arrays.
func listEncoder(elem encodeFunc) encodeFunc {
	return func(v any) any {
		list, ok := v.([]any)
		if !ok {
			return encodeGeneric(v)
		}
		out := make([]any, len(list))
		for i, x := range list {
			if x != nil {
				out[i] = elem(x)
			}
		}
		return out
	}
}

// mapEncoder encodes MAP values as JSON objects whose keys are the text of the encoded
// keys, as Trino writes map keys.
func mapEncoder(key, value encodeFunc) encodeFunc {
	return func(v any) any {
		var m map[any]any
		switch x := v.(type) {
		case duckdb.Map:
			m = x
		case map[any]any:
			m = x
		default:
			return encodeGeneric(v)
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			var ks string
			if k == nil {
				ks = "null"
			} else {
				ks = mapKey(key(k))
			}
			if x != nil {
				out[ks] = value(x)
			} else {
				out[ks] = nil
			}
		}
		return out
	}
}

// mapKey returns the JSON object key for an encoded map key.
func mapKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case nil:
		return "null"
	}
	return jsonText(k)
}

// structEncoder encodes STRUCT values, which the driver returns as maps by field name, as
// JSON arrays of the field values in declaration order.
func structEncoder(fields []duckField) encodeFunc {
	encs := make([]encodeFunc, len(fields))
	for i, f := range fields {
		encs[i] = encoderFor(f.typ)
	}
	return func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return encodeGeneric(v)
		}
		out := make([]any, len(fields))
		for i, f := range fields {
			if x := m[f.name]; x != nil {
				out[i] = encs[i](x)
			}
		}
		return out
	}
}

// unionEncoder encodes a UNION value as a row with one field per member, of which only the
// active member is non-null.
func unionEncoder(members []duckField) encodeFunc {
	encs := make([]encodeFunc, len(members))
	for i, f := range members {
		encs[i] = encoderFor(f.typ)
	}
	return func(v any) any {
		u, ok := v.(duckdb.Union)
		if !ok {
			return encodeGeneric(v)
		}
		out := make([]any, len(members))
		for i, f := range members {
			if f.name == u.Tag && u.Value != nil {
				out[i] = encs[i](u.Value)
			}
		}
		return out
	}
}

// encodeGeneric encodes a value whose Go type did not match its column type. It never
// happens with the DuckDB driver's values; it keeps the output valid JSON regardless.
func encodeGeneric(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32:
		return x
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return strconv.FormatUint(x, 10)
	case uint:
		return encodeGeneric(uint64(x))
	case float32, float64:
		return encodeFloat(x)
	case *big.Int:
		return x.String()
	case duckdb.Decimal:
		return encodeDecimal(x, int(x.Scale))
	case duckdb.Interval:
		return encodeInterval(x)
	case duckdb.UUID:
		return encodeUUID(x)
	case duckdb.Union:
		if x.Value == nil {
			return nil
		}
		return encodeGeneric(x.Value)
	case duckdb.Map:
		return mapEncoder(encodeGeneric, encodeGeneric)(x)
	case time.Time:
		return x.Format("2006-01-02 15:04:05.000000")
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		return listEncoder(encodeGeneric)(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = encodeGeneric(e)
		}
		return out
	case json.Number:
		return x
	}
	return fmt.Sprint(v)
}

// EstimateSize returns a cheap estimate of the size in bytes of the JSON encoding of an
// encoded row (as returned by [RowEncoder.Encode]), including its brackets and commas.
// It does not account for escape sequences in strings.
func EstimateSize(row []any) int {
	n := 2
	for i, v := range row {
		if i > 0 {
			n++
		}
		n += estimateValue(v)
	}
	return n
}

func estimateValue(v any) int {
	switch x := v.(type) {
	case nil:
		return 4
	case bool:
		if x {
			return 4
		}
		return 5
	case string:
		return len(x) + 2
	case int8:
		return intLen(int64(x))
	case int16:
		return intLen(int64(x))
	case int32:
		return intLen(int64(x))
	case int64:
		return intLen(x)
	case int:
		return intLen(int64(x))
	case uint8:
		return intLen(int64(x))
	case uint16:
		return intLen(int64(x))
	case uint32:
		return intLen(int64(x))
	case float32:
		return 12
	case float64:
		return 20
	case json.Number:
		return len(x)
	case []any:
		return EstimateSize(x)
	case map[string]any:
		n := 2
		for k, e := range x {
			n += len(k) + 4 + estimateValue(e) // "k": v,
		}
		return n
	}
	return 16
}

// intLen returns the number of characters of n in decimal.
func intLen(n int64) int {
	l := 1
	u := uint64(n)
	if n < 0 {
		l++
		u = -u
	}
	for u >= 10 {
		u /= 10
		l++
	}
	return l
}
