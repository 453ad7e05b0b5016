package substraitsql

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// literal renders a Substrait literal as a DuckDB constant of the same type.
func literal(l *substraitpb.Expression_Literal, path string) (string, error) {
	switch v := l.GetLiteralType().(type) {
	case *substraitpb.Expression_Literal_Boolean:
		if v.Boolean {
			return "TRUE", nil
		}
		return "FALSE", nil
	case *substraitpb.Expression_Literal_I8:
		return intLiteral(int64(v.I8), "TINYINT", math.MinInt8, math.MaxInt8, path)
	case *substraitpb.Expression_Literal_I16:
		return intLiteral(int64(v.I16), "SMALLINT", math.MinInt16, math.MaxInt16, path)
	case *substraitpb.Expression_Literal_I32:
		return intLiteral(int64(v.I32), "", math.MinInt32, math.MaxInt32, path)
	case *substraitpb.Expression_Literal_I64:
		return intLiteral(v.I64, "BIGINT", math.MinInt64, math.MaxInt64, path)
	case *substraitpb.Expression_Literal_Fp32:
		return "CAST('" + floatText(float64(v.Fp32), 32) + "' AS REAL)", nil
	case *substraitpb.Expression_Literal_Fp64:
		return "CAST('" + floatText(v.Fp64, 64) + "' AS DOUBLE)", nil
	case *substraitpb.Expression_Literal_String_:
		return quoteString(v.String_), nil
	case *substraitpb.Expression_Literal_FixedChar:
		return quoteString(v.FixedChar), nil
	case *substraitpb.Expression_Literal_VarChar_:
		return quoteString(v.VarChar.GetValue()), nil
	case *substraitpb.Expression_Literal_Binary:
		return "from_hex('" + hex.EncodeToString(v.Binary) + "')", nil
	case *substraitpb.Expression_Literal_FixedBinary:
		return "from_hex('" + hex.EncodeToString(v.FixedBinary) + "')", nil
	case *substraitpb.Expression_Literal_Decimal_:
		return decimalLiteral(v.Decimal, path)
	case *substraitpb.Expression_Literal_Date:
		return dateLiteral(v.Date), nil
	case *substraitpb.Expression_Literal_PrecisionTime_:
		return timeLiteral(v.PrecisionTime.GetValue(), v.PrecisionTime.GetPrecision(), path)
	case *substraitpb.Expression_Literal_PrecisionTimestamp_:
		return timestampLiteral(v.PrecisionTimestamp.GetValue(), v.PrecisionTimestamp.GetPrecision(), false, path)
	case *substraitpb.Expression_Literal_PrecisionTimestampTz:
		return timestampLiteral(v.PrecisionTimestampTz.GetValue(), v.PrecisionTimestampTz.GetPrecision(), true, path)
	case *substraitpb.Expression_Literal_IntervalYearToMonth_:
		return intervalLiteral(v.IntervalYearToMonth, nil, path)
	case *substraitpb.Expression_Literal_IntervalDayToSecond_:
		return intervalLiteral(nil, v.IntervalDayToSecond, path)
	case *substraitpb.Expression_Literal_IntervalCompound_:
		ic := v.IntervalCompound
		return intervalLiteral(ic.GetIntervalYearToMonth(), ic.GetIntervalDayToSecond(), path)
	case *substraitpb.Expression_Literal_Uuid:
		if len(v.Uuid) != 16 {
			return "", invalid(path, "uuid literal of %d bytes", len(v.Uuid))
		}
		h := hex.EncodeToString(v.Uuid)
		return fmt.Sprintf("CAST('%s-%s-%s-%s-%s' AS UUID)", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]), nil
	case *substraitpb.Expression_Literal_Null:
		t, err := sqlType(v.Null, path+".null")
		if err != nil {
			return "", err
		}
		return "CAST(NULL AS " + t + ")", nil
	case *substraitpb.Expression_Literal_List_:
		items, err := literals(v.List.GetValues(), path+".list.values")
		if err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "", invalid(path, "list literal without values (use empty_list)")
		}
		return "[" + strings.Join(items, ", ") + "]", nil
	case *substraitpb.Expression_Literal_EmptyList:
		t, err := sqlType(&substraitpb.Type{Kind: &substraitpb.Type_List_{List: v.EmptyList}}, path+".empty_list")
		if err != nil {
			return "", err
		}
		return "CAST([] AS " + t + ")", nil
	case *substraitpb.Expression_Literal_Struct_:
		items, err := literals(v.Struct.GetFields(), path+".struct.fields")
		if err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "", unsupported(path, "struct literal without fields")
		}
		return "row(" + strings.Join(items, ", ") + ")", nil
	case *substraitpb.Expression_Literal_Map_:
		kvs := v.Map.GetKeyValues()
		if len(kvs) == 0 {
			return "", invalid(path, "map literal without entries (use empty_map)")
		}
		parts := make([]string, len(kvs))
		for i, kv := range kvs {
			p := fmt.Sprintf("%s.map.key_values[%d]", path, i)
			k, err := literal(kv.GetKey(), p+".key")
			if err != nil {
				return "", err
			}
			val, err := literal(kv.GetValue(), p+".value")
			if err != nil {
				return "", err
			}
			parts[i] = k + ": " + val
		}
		return "MAP {" + strings.Join(parts, ", ") + "}", nil
	case *substraitpb.Expression_Literal_EmptyMap:
		t, err := sqlType(&substraitpb.Type{Kind: &substraitpb.Type_Map_{Map: v.EmptyMap}}, path+".empty_map")
		if err != nil {
			return "", err
		}
		return "CAST(MAP {} AS " + t + ")", nil
	case nil:
		return "", invalid(path, "literal without a value")
	default:
		if s, ok, err := legacyLiteral(l, path); ok {
			return s, err
		}
		return "", unsupported(path, "%s literal", oneofName(l, "literal_type"))
	}
}

func literals(ls []*substraitpb.Expression_Literal, path string) ([]string, error) {
	out := make([]string, len(ls))
	for i, l := range ls {
		s, err := literal(l, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// intLiteral renders n; sqlType "" leaves it bare (DuckDB types small integer constants
// as INTEGER). Negative values are parenthesized so that no "--" comment can form.
func intLiteral(n int64, sqlType string, lo, hi int64, path string) (string, error) {
	if n < lo || n > hi {
		return "", invalid(path, "integer literal %d out of range", n)
	}
	s := strconv.FormatInt(n, 10)
	if sqlType != "" {
		return "CAST(" + s + " AS " + sqlType + ")", nil
	}
	if n < 0 {
		return "(" + s + ")", nil
	}
	return s, nil
}

func floatText(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// decimalLiteral decodes the 16-byte little-endian two's complement value.
func decimalLiteral(d *substraitpb.Expression_Literal_Decimal, path string) (string, error) {
	p, s := d.GetPrecision(), d.GetScale()
	if err := checkDecimal(p, s, path); err != nil {
		return "", err
	}
	if len(d.GetValue()) != 16 {
		return "", invalid(path, "decimal literal of %d bytes (want 16)", len(d.GetValue()))
	}
	text := decimalText(d.GetValue(), s)
	digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(text), "0")
	if len(digits) > int(p) {
		return "", invalid(path, "decimal literal %s does not fit decimal(%d,%d)", text, p, s)
	}
	return fmt.Sprintf("CAST('%s' AS DECIMAL(%d,%d))", text, p, s), nil
}

// decimalText formats a 16-byte little-endian two's complement integer scaled by 10^-scale.
func decimalText(le []byte, scale int32) string {
	be := make([]byte, len(le))
	for i, b := range le {
		be[len(le)-1-i] = b
	}
	n := new(big.Int).SetBytes(be)
	if len(be) > 0 && be[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(be))))
	}
	neg := n.Sign() < 0
	digits := new(big.Int).Abs(n).String()
	if scale > 0 {
		if len(digits) <= int(scale) {
			digits = strings.Repeat("0", int(scale)-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-int(scale)] + "." + digits[len(digits)-int(scale):]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

var epoch = time.Unix(0, 0).UTC()

func dateLiteral(days int32) string {
	d := epoch.AddDate(0, 0, int(days))
	if d.Year() < 1 || d.Year() > 9999 {
		return fmt.Sprintf("(DATE '1970-01-01' + CAST(%d AS INTEGER))", days)
	}
	return "DATE '" + d.Format("2006-01-02") + "'"
}

// fraction splits v, in units of 10^-precision seconds, into whole seconds and
// nanoseconds (floored, so that negative values stay in range).
func fraction(v int64, precision int32) (sec, nsec int64) {
	unit := int64(1)
	for range precision {
		unit *= 10
	}
	sec, rem := v/unit, v%unit
	if rem < 0 {
		sec--
		rem += unit
	}
	for p := precision; p < 9; p++ {
		rem *= 10
	}
	return sec, rem
}

func timeLiteral(v int64, precision int32, path string) (string, error) {
	if precision < 0 || precision > 6 {
		return "", unsupported(path, "time precision %d", precision)
	}
	sec, nsec := fraction(v, precision)
	if sec < 0 || sec >= 86400 {
		return "", invalid(path, "time literal out of range")
	}
	t := epoch.Add(time.Duration(sec)*time.Second + time.Duration(nsec))
	return "TIME '" + t.Format("15:04:05.000000") + "'", nil
}

func timestampLiteral(v int64, precision int32, tz bool, path string) (string, error) {
	typ, err := timestampType(precision, tz, path)
	if err != nil {
		return "", err
	}
	sec, nsec := fraction(v, precision)
	const maxSec = 253402300799 // 9999-12-31 23:59:59
	const minSec = -62135596800 // 0001-01-01 00:00:00
	if sec < minSec || sec > maxSec {
		return "", unsupported(path, "timestamp literal outside years 1..9999")
	}
	t := time.Unix(sec, nsec).UTC()
	layout := "2006-01-02 15:04:05.000000"
	if precision > 6 {
		layout = "2006-01-02 15:04:05.000000000"
	}
	s := t.Format(layout)
	if tz {
		s += "+00"
	}
	return typ + " '" + s + "'", nil
}

// intervalLiteral renders a year-month part, a day-second part or both as one INTERVAL.
func intervalLiteral(ym *substraitpb.Expression_Literal_IntervalYearToMonth, ds *substraitpb.Expression_Literal_IntervalDayToSecond, path string) (string, error) {
	var parts []string
	if ym != nil {
		if months := int64(ym.GetYears())*12 + int64(ym.GetMonths()); months != 0 {
			parts = append(parts, fmt.Sprintf("%d months", months))
		}
	}
	if ds != nil {
		micros, _ := legacyIntervalMicros(ds)
		switch pm := ds.GetPrecisionMode().(type) {
		case *substraitpb.Expression_Literal_IntervalDayToSecond_Precision:
			p, sub := pm.Precision, ds.GetSubseconds()
			switch {
			case p < 0 || p > 9:
				return "", invalid(path, "interval precision %d", p)
			case p <= 6:
				for i := p; i < 6; i++ {
					sub *= 10
				}
				micros = sub
			default:
				div := int64(1)
				for i := int32(6); i < p; i++ {
					div *= 10
				}
				if sub%div != 0 {
					return "", unsupported(path, "interval below microsecond precision")
				}
				micros = sub / div
			}
		}
		if ds.GetDays() != 0 {
			parts = append(parts, fmt.Sprintf("%d days", ds.GetDays()))
		}
		if ds.GetSeconds() != 0 {
			parts = append(parts, fmt.Sprintf("%d seconds", ds.GetSeconds()))
		}
		if micros != 0 {
			parts = append(parts, fmt.Sprintf("%d microseconds", micros))
		}
	}
	if len(parts) == 0 {
		return "INTERVAL '0 days'", nil
	}
	return "INTERVAL '" + strings.Join(parts, " ") + "'", nil
}
