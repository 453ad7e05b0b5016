// Package fragexec runs one fragment of a cut Substrait plan (see pkg/fragment) on the
// executor-proxy's DuckDB.
//
// A Runner translates the fragment's plan with substraitsql and points its reads at
// DuckDB table expressions:
//
//   - a placeholder read ["__sluice_fragment", "<child ID>"] reads the child's output,
//     the Parquet file named in Fragment.Inputs (read_parquet);
//   - a partition read ["__sluice_partition", "<i>", "<n>", "<TABLE>"] reads partition
//     i of n of the table's Parquet data (see Runner for how rows are assigned);
//   - any other read names a base table, matched case-insensitively in the configured
//     catalog and schema (tpch.tiny by default).
//
// A non-root fragment writes its result into a Store as one Parquet file per
// (query, fragment) and reports its path, row count and size; partition fragments have
// their own IDs ("<query>_f3_p1"), so the partition is part of the fragment ID. The root
// fragment's rows are handed to a RowsFunc, which can stream them to the client.
//
// Errors wrap one of ErrPlan (not retriable), ErrInput (retriable after the scheduler
// has rerun the children whose outputs are missing) or ErrExec (an engine failure while
// running).
package fragexec
