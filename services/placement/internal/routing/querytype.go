package routing

import "strings"

// QueryTypes are the values a rule's queryType may take: Trino's query types.
var QueryTypes = []string{"SELECT", "EXPLAIN", "DESCRIBE", "INSERT", "UPDATE", "DELETE", "MERGE",
	"ANALYZE", "DATA_DEFINITION", "ALTER_TABLE_EXECUTE"}

// canonicalQueryType returns t upper-cased when it is one of QueryTypes.
func canonicalQueryType(t string) (string, bool) {
	for _, q := range QueryTypes {
		if strings.EqualFold(q, t) {
			return q, true
		}
	}
	return "", false
}
