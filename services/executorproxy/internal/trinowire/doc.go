// Package trinowire turns DuckDB query results and errors into the JSON that a Trino
// coordinator sends over the client statement protocol, so that unmodified Trino clients
// (CLI, JDBC, trino-go-client, …) can read results that Sluice computed with DuckDB.
//
// It has three parts:
//
//   - [Columns] maps the column types of a DuckDB result (database/sql ColumnType values,
//     whose DatabaseTypeName is DuckDB's type name) to Trino column descriptions: the
//     display type name and the structured typeSignature, exactly as a coordinator
//     writes them.
//   - [RowEncoder] converts each scanned DuckDB row into the JSON values Trino puts in
//     QueryResults.data, and [EstimateSize] estimates their JSON size so callers can cut
//     pages by targetResultSize.
//   - [ErrorFromDuckDB] maps a DuckDB error to a Trino QueryError with the matching
//     standard error code, a Trino-style message and, when DuckDB reports one, the error
//     location in the SQL text.
//
// DuckDB type → Trino type:
//
//	BOOLEAN                      boolean
//	TINYINT / SMALLINT           tinyint / smallint
//	INTEGER / BIGINT             integer / bigint
//	UTINYINT / USMALLINT         smallint / integer
//	UINTEGER                     bigint
//	UBIGINT                      decimal(20,0)
//	HUGEINT / UHUGEINT           decimal(38,0)   (values beyond 38 digits keep all digits)
//	FLOAT / DOUBLE               real / double
//	DECIMAL(p,s)                 decimal(p,s)
//	VARCHAR, ENUM                varchar
//	JSON                         json
//	BLOB                         varbinary
//	UUID                         uuid
//	DATE                         date
//	TIME / TIMETZ                time(6) / time(6) with time zone
//	TIMESTAMP_S / _MS / TIMESTAMP / _NS   timestamp(0) / (3) / (6) / (9)
//	TIMESTAMPTZ                  timestamp(6) with time zone   (rendered in UTC)
//	INTERVAL                     interval day to second   (a month counts as 30 days)
//	T[] and T[n]                 array(T)
//	STRUCT(a T, …)               row(a T, …)
//	MAP(K, V)                    map(K, V)
//	UNION(a T, …)                row(a T, …)   (only the active member is non-null)
//	SQLNULL                      unknown
//
// BIT, BIGNUM (VARINT) and other types that the DuckDB Go driver cannot read are rejected
// by [Columns] with a NOT_SUPPORTED error.
package trinowire
