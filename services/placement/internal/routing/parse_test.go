package routing

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	c := loadExample(t)
	if c.DefaultGroup != "adhoc" || len(c.Rules) != 5 {
		t.Fatalf("config = %+v", c)
	}
	r := c.Rules[0]
	if r.Name != "etl" || r.User.String() != "^(?:etl_.*)$" || r.Source.String() != "^(?:airflow.*)$" ||
		!slices.Equal(r.ClientTags, []string{"etl"}) || r.QueryType != "INSERT" || r.Group != "etl" {
		t.Errorf("rules[0] = %+v", r)
	}
	if got := c.Rules[1].QueryType; got != "SELECT" {
		t.Errorf("query type not canonical: %q", got)
	}
	if c.Rules[2].User != nil || c.Rules[2].Source != nil {
		t.Errorf("absent patterns must be nil: %+v", c.Rules[2])
	}
	empty, err := Parse([]byte(`{}`))
	if err != nil || empty.DefaultGroup != "" || len(empty.Rules) != 0 {
		t.Errorf("empty object: %+v, %v", empty, err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"invalid user regex", `{"rules": [{"group": "a"}, {"group": "b"}, {"user": "etl_(", "group": "c"}]}`,
			[]string{"rules[2].user: invalid regex: missing closing ): `etl_(`"}},
		{"invalid source regex", `{"rules": [{"source": "a**", "group": "c"}]}`,
			[]string{"rules[0].source: invalid regex: invalid nested repetition operator: `**`"}},
		{"empty regex", `{"rules": [{"user": "", "group": "c"}]}`,
			[]string{"rules[0].user: must not be empty (leave the field out to match any value)"}},
		{"unknown query type", `{"rules": [{"queryType": "INSERTS", "group": "c"}]}`,
			[]string{`rules[0].queryType: unknown query type "INSERTS" (want one of SELECT, EXPLAIN, DESCRIBE, INSERT, UPDATE, DELETE, MERGE, ANALYZE, DATA_DEFINITION, ALTER_TABLE_EXECUTE)`}},
		{"empty query type", `{"rules": [{"queryType": "", "group": "c"}]}`,
			[]string{`rules[0].queryType: unknown query type "" (want one of SELECT, EXPLAIN, DESCRIBE, INSERT, UPDATE, DELETE, MERGE, ANALYZE, DATA_DEFINITION, ALTER_TABLE_EXECUTE)`}},
		{"missing group", `{"rules": [{"user": "a"}]}`, []string{"rules[0].group: must not be empty"}},
		{"blank group", `{"rules": [{"group": "  "}]}`, []string{"rules[0].group: must not be empty"}},
		{"empty client tag", `{"rules": [{"clientTags": ["a", ""], "group": "g"}]}`, []string{"rules[0].clientTags[1]: must not be empty"}},
		{"duplicate rule name", `{"rules": [{"name": "x", "group": "a"}, {"name": "x", "group": "b"}]}`,
			[]string{`rules[1].name: duplicate rule name "x" (also rules[0])`}},
		{"unknown top-level field", `{"defaultGroup": "a", "rule": []}`, []string{`unknown field "rule"`}},
		{"unknown rule field", `{"rules": [{"group": "a"}, {"usr": "x", "group": "b"}]}`, []string{`rules[1]: unknown field "usr"`}},
		{"wrong type", `{"rules": [{"group": 1}]}`, []string{`rules[0].group: expected a string, got number`}},
		{"tags not an array", `{"rules": [{"group": "g", "clientTags": "etl"}]}`, []string{`rules[0].clientTags: expected an array, got string`}},
		{"rules not an array", `{"rules": {}}`, []string{`rules: expected an array, got object`}},
		{"not an object", `"adhoc"`, []string{`expected an object, got string`}},
		{"null document", `null`, []string{`expected an object, got null`}},
		{"null rule", `{"rules": [null]}`, []string{`rules[0]: expected an object, got null`}},
		{"empty document", ``, []string{`invalid JSON: empty document`}},
		{"truncated", `{"rules": [{"group": "a"}`, []string{`invalid JSON: unexpected end of input`}},
		{"syntax error", `{"rules": [}`, []string{`invalid JSON: invalid character '}' looking for beginning of value`}},
		{"trailing data", `{} []`, []string{`invalid JSON: data after the top-level value`}},
		{"every problem in order", `{"rules": [{"user": "(", "source": ")", "queryType": "X"}, {"group": "ok"}, {"name": 3}]}`,
			[]string{
				"rules[0].user: invalid regex: missing closing ): `(`",
				"rules[0].source: invalid regex: unexpected ): `)`",
				`rules[0].queryType: unknown query type "X" (want one of SELECT, EXPLAIN, DESCRIBE, INSERT, UPDATE, DELETE, MERGE, ANALYZE, DATA_DEFINITION, ALTER_TABLE_EXECUTE)`,
				"rules[0].group: must not be empty",
				"rules[2].name: expected a string, got number",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %T %v, want a *ValidationError wrapping ErrInvalidConfig", err, err)
			}
			got := make([]string, len(ve.Errors))
			for i, fe := range ve.Errors {
				got[i] = fe.Error()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
