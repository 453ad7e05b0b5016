package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// sqlType is the DuckDB type of a Substrait type. Widths DuckDB lacks map to the next
// wider type (fixed_char and varchar to VARCHAR, fixed_binary to BLOB).
func sqlType(t *substraitpb.Type, path string) (string, error) {
	switch k := t.GetKind().(type) {
	case *substraitpb.Type_Bool:
		return "BOOLEAN", nil
	case *substraitpb.Type_I8_:
		return "TINYINT", nil
	case *substraitpb.Type_I16_:
		return "SMALLINT", nil
	case *substraitpb.Type_I32_:
		return "INTEGER", nil
	case *substraitpb.Type_I64_:
		return "BIGINT", nil
	case *substraitpb.Type_Fp32:
		return "REAL", nil
	case *substraitpb.Type_Fp64:
		return "DOUBLE", nil
	case *substraitpb.Type_String_, *substraitpb.Type_Varchar, *substraitpb.Type_FixedChar_:
		return "VARCHAR", nil
	case *substraitpb.Type_Binary_, *substraitpb.Type_FixedBinary_:
		return "BLOB", nil
	case *substraitpb.Type_Timestamp_:
		return "TIMESTAMP", nil
	case *substraitpb.Type_TimestampTz:
		return "TIMESTAMPTZ", nil
	case *substraitpb.Type_Date_:
		return "DATE", nil
	case *substraitpb.Type_Time_:
		return "TIME", nil
	case *substraitpb.Type_IntervalYear_, *substraitpb.Type_IntervalDay_, *substraitpb.Type_IntervalCompound_:
		return "INTERVAL", nil
	case *substraitpb.Type_Uuid:
		return "UUID", nil
	case *substraitpb.Type_Decimal_:
		p, s := k.Decimal.GetPrecision(), k.Decimal.GetScale()
		if err := checkDecimal(p, s, path); err != nil {
			return "", err
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	case *substraitpb.Type_PrecisionTime_:
		if p := k.PrecisionTime.GetPrecision(); p < 0 || p > 6 {
			return "", unsupported(path, "precision_time with precision %d", p)
		}
		return "TIME", nil
	case *substraitpb.Type_PrecisionTimestamp_:
		return timestampType(k.PrecisionTimestamp.GetPrecision(), false, path)
	case *substraitpb.Type_PrecisionTimestampTz:
		return timestampType(k.PrecisionTimestampTz.GetPrecision(), true, path)
	case *substraitpb.Type_Struct_:
		var b strings.Builder
		b.WriteString("STRUCT(")
		for i, f := range k.Struct.GetTypes() {
			ft, err := sqlType(f, fmt.Sprintf("%s.struct.types[%d]", path, i))
			if err != nil {
				return "", err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "f%d %s", i, ft)
		}
		if len(k.Struct.GetTypes()) == 0 {
			return "", unsupported(path, "struct type without fields")
		}
		b.WriteString(")")
		return b.String(), nil
	case *substraitpb.Type_List_:
		et, err := sqlType(k.List.GetType(), path+".list.type")
		if err != nil {
			return "", err
		}
		return et + "[]", nil
	case *substraitpb.Type_Map_:
		kt, err := sqlType(k.Map.GetKey(), path+".map.key")
		if err != nil {
			return "", err
		}
		vt, err := sqlType(k.Map.GetValue(), path+".map.value")
		if err != nil {
			return "", err
		}
		return "MAP(" + kt + ", " + vt + ")", nil
	case nil:
		return "", invalid(path, "type without a kind")
	default:
		return "", unsupported(path, "type %s", typeKindName(t))
	}
}

func timestampType(p int32, tz bool, path string) (string, error) {
	switch {
	case p < 0 || p > 9:
		return "", unsupported(path, "timestamp precision %d", p)
	case tz && p > 6:
		return "", unsupported(path, "timestamp_tz precision %d (DuckDB keeps microseconds)", p)
	case tz:
		return "TIMESTAMPTZ", nil
	case p > 6:
		return "TIMESTAMP_NS", nil
	}
	return "TIMESTAMP", nil
}

func checkDecimal(p, s int32, path string) error {
	if p < 1 || p > 38 || s < 0 || s > p {
		return unsupported(path, "decimal(%d,%d) (DuckDB: precision 1..38, 0 <= scale <= precision)", p, s)
	}
	return nil
}

// typeKindName is the proto name of a type's kind, for error messages.
func typeKindName(t *substraitpb.Type) string { return oneofName(t, "kind") }

// isIntegerType reports i8, i16, i32 and i64.
func isIntegerType(t *substraitpb.Type) bool {
	switch t.GetKind().(type) {
	case *substraitpb.Type_I8_, *substraitpb.Type_I16_, *substraitpb.Type_I32_, *substraitpb.Type_I64_:
		return true
	}
	return false
}
