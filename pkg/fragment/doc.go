// Package fragment parses Substrait plans and cuts them into a DAG of fragments at
// pipeline breakers, for Sluice's fragment scheduler.
//
// The package is pure: no I/O, no clocks, no randomness. The same plan bytes and
// Options always give the same DAG, byte for byte.
//
//   - Parse reads a Substrait Plan (binary protobuf or proto3 JSON), migrates legacy
//     extension URIs to URNs, and validates it: structurally (relation paths, required
//     inputs, declared functions) and semantically with substrait-go.
//   - Cut finds the pipeline breakers (aggregate, sort, fetch after sort, the build
//     side of joins and cross products, non-ALL set operations, windows, exchanges and
//     uncorrelated subquery expressions), makes every breaker the root of a fragment,
//     and replaces a child fragment inside its parent with a placeholder read of the
//     named table ["__sluice_fragment", <child ID>]. With Options.Partitions, scans
//     of partitioned tables fan out into one fragment per partition, with a partial
//     and a final aggregation where the aggregate decomposes.
//
// See README.md in this directory for the cut rules and the cost model.
package fragment
