// Package coordinator is the client the executor-proxy uses to run queries on a real Trino
// or Presto coordinator. It hands a query to the cluster, tracks it and reads the cluster's
// load.
//
//   - Dispatch sends the query with every session header of its events.QuerySpec, in the
//     cluster's header family (X-Trino-* or X-Presto-*). The routing group is not sent: it
//     is Sluice's. On Trino, Dispatch POSTs /v1/statement and the coordinator assigns its
//     own query ID. On Presto, Dispatch PUTs /v1/statement/{spec.ID}?slug=, so the query
//     keeps Sluice's ID. Dispatch returns the coordinator's ID and first QueryResults. Its
//     nextUri is what the client is handed.
//   - Status reads GET /v1/query/{id}: the state, CPU time, peak memory and error of the
//     query.
//   - Cancel sends DELETE /v1/query/{id}. CancelHandle also deletes the handed-out nextUri.
//   - Load reads GET /v1/info and GET /v1/cluster. When /v1/cluster is 404, as on current
//     Trino releases, it counts the states of GET /v1/query instead. Info reads /v1/info.
//
// # Credentials
//
// In forward mode (the default) a dispatched query carries the user's own credentials: the
// Authorization value given with WithAuthorization, and the extra credentials of the spec.
// events.QuerySpec does not hold the Authorization header, so the caller must pass it out of
// band. In impersonate mode (WithImpersonation) the client authenticates as a service user
// with Basic auth and sets X-Trino-User (X-Presto-User) to the end user. The coordinator must
// then allow that principal to impersonate every user:
//   - Trino: an "impersonation" rule of file-based system access control, e.g.
//     {"original_user": "sluice", "new_user": ".*", "allow": true}.
//   - Presto: a principal rule that lets the service principal set any user.
//
// Otherwise every query fails with PERMISSION_DENIED. Status, Cancel, Load and Info always
// use the service identity (WithServiceUser, or the impersonation user). It must be
// allowed to view and kill other users' queries.
//
// # Errors
//
// Every error is an *Error wrapping exactly one sentinel:
//   - ErrUnavailable: the coordinator could not be reached, answered 5xx, 429 or a
//     redirect, or sent a malformed answer. For Dispatch this means the query did not
//     start, because the engines register a query on the POST (or PUT) and start it only on
//     the first poll. It is safe to retry the query on another cluster.
//   - ErrQueryFailed: the coordinator refused the query with a 4xx, or failed it with a
//     QueryResults error. The engine's *protocol.QueryError is reachable with errors.As.
//   - ErrAlreadyExists: a Presto PUT got 409. The query was already handed over, or its ID
//     is taken.
//   - ErrNotFound: /v1/query/{id} does not know the query (404, or 410 as Trino answers). A
//     Trino query that nobody has polled yet is unknown too (see WithSubmit).
//   - ErrRejected: a control request (status, cancel, load, info) was refused with a 4xx.
//
// A canceled context is returned as the context's error instead.
package coordinator
