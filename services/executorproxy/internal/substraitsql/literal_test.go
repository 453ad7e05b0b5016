package substraitsql

import (
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestLiterals renders literals of every kind and checks DuckDB reads them back as the
// intended value.
func TestLiterals(t *testing.T) {
	db := tpchcheck.TinySQL(t)
	cases := []struct {
		json, sql, text string // text: DuckDB's CAST(value AS VARCHAR)
	}{
		{`{"boolean": true}`, "TRUE", "true"},
		{`{"i8": -5}`, "CAST(-5 AS TINYINT)", "-5"},
		{`{"i16": 300}`, "CAST(300 AS SMALLINT)", "300"},
		{`{"i32": 15}`, "15", "15"},
		{`{"i32": -15}`, "(-15)", "-15"},
		{`{"i64": "9000000000"}`, "CAST(9000000000 AS BIGINT)", "9000000000"},
		{`{"fp32": 1.5}`, "CAST('1.5' AS REAL)", "1.5"},
		{`{"fp64": 0.1}`, "CAST('0.1' AS DOUBLE)", "0.1"},
		{`{"fp64": "NaN"}`, "CAST('NaN' AS DOUBLE)", "nan"},
		{`{"fp64": "-Infinity"}`, "CAST('-Infinity' AS DOUBLE)", "-inf"},
		{`{"string": "it's"}`, "'it''s'", "it's"},
		{`{"string": "a\nb"}`, "('a' || chr(10) || 'b')", "a\nb"},
		{`{"fixedChar": "AB"}`, "'AB'", "AB"},
		{`{"varChar": {"value": "xyz", "length": 5}}`, "'xyz'", "xyz"},
		{`{"binary": "AQL/"}`, "from_hex('0102ff')", `\x01\x02\xFF`},
		{`{"decimal": {"value": "YAkAAAAAAAAAAAAAAAAAAA==", "precision": 15, "scale": 2}}`, "CAST('24.00' AS DECIMAL(15,2))", "24.00"},
		{`{"decimal": {"value": "nPb//////////////////w==", "precision": 5, "scale": 3}}`, "CAST('-2.404' AS DECIMAL(5,3))", "-2.404"},
		{`{"decimal": {"value": "BQAAAAAAAAAAAAAAAAAAAA==", "precision": 3, "scale": 2}}`, "CAST('0.05' AS DECIMAL(3,2))", "0.05"},
		{`{"date": 10561}`, "DATE '1998-12-01'", "1998-12-01"},
		{`{"date": -1}`, "DATE '1969-12-31'", "1969-12-31"},
		{`{"time": "3723000001"}`, "TIME '01:02:03.000001'", "01:02:03.000001"},
		{`{"precisionTime": {"precision": 3, "value": "3723001"}}`, "TIME '01:02:03.001000'", "01:02:03.001"},
		{`{"timestamp": "1000000"}`, "TIMESTAMP '1970-01-01 00:00:01.000000'", "1970-01-01 00:00:01"},
		{`{"precisionTimestamp": {"precision": 9, "value": "-1"}}`, "TIMESTAMP_NS '1969-12-31 23:59:59.999999999'", "1969-12-31 23:59:59.999999999"},
		{`{"precisionTimestampTz": {"precision": 6, "value": "0"}}`, "TIMESTAMPTZ '1970-01-01 00:00:00.000000+00'", "1970-01-01 00:00:00+00"},
		{`{"intervalYearToMonth": {"years": 1, "months": 2}}`, "INTERVAL '14 months'", "1 year 2 months"},
		{`{"intervalDayToSecond": {"days": 120, "precision": 6}}`, "INTERVAL '120 days'", "120 days"},
		{`{"intervalDayToSecond": {"days": 1, "seconds": 30, "precision": 3, "subseconds": "5"}}`, "INTERVAL '1 days 30 seconds 5000 microseconds'", "1 day 00:00:30.005"},
		{`{"intervalCompound": {"intervalYearToMonth": {"months": 3}, "intervalDayToSecond": {"days": 2}}}`, "INTERVAL '3 months 2 days'", "3 months 2 days"},
		{`{"uuid": "ASNFZ4mrze8BI0VniavN7w=="}`, "CAST('01234567-89ab-cdef-0123-456789abcdef' AS UUID)", "01234567-89ab-cdef-0123-456789abcdef"},
		{`{"null": {"decimal": {"precision": 10, "scale": 2}}}`, "CAST(NULL AS DECIMAL(10,2))", ""},
		{`{"list": {"values": [{"i32": 1}, {"i32": 2}]}}`, "[1, 2]", "[1, 2]"},
		{`{"emptyList": {"type": {"string": {}}}}`, "CAST([] AS VARCHAR[])", "[]"},
		{`{"struct": {"fields": [{"i32": 1}, {"string": "a"}]}}`, "row(1, 'a')", "(1, a)"},
		{`{"map": {"keyValues": [{"key": {"string": "k"}, "value": {"i64": "7"}}]}}`, "MAP {'k': CAST(7 AS BIGINT)}", "{k=7}"},
		{`{"emptyMap": {"key": {"string": {}}, "value": {"i32": {}}}}`, "CAST(MAP {} AS MAP(VARCHAR, INTEGER))", "{}"},
	}
	for _, c := range cases {
		var l substraitpb.Expression_Literal
		if err := protojson.Unmarshal([]byte(c.json), &l); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		got, err := literal(&l, "lit")
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		if got != c.sql {
			t.Errorf("%s: got %s, want %s", c.json, got, c.sql)
		}
		var text *string
		if err := db.QueryRowContext(t.Context(), "SELECT CAST("+got+" AS VARCHAR)").Scan(&text); err != nil {
			t.Errorf("%s: DuckDB: %v", got, err)
			continue
		}
		if (text == nil) != (c.text == "") || (text != nil && *text != c.text) {
			t.Errorf("%s reads back as %v, want %q", got, deref(text), c.text)
		}
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
