// Package testcoordinator is an in-process HTTP server that behaves like a Trino or Presto
// coordinator for the parts of the REST API a gateway uses: the client statement protocol
// (submit, queued and executing polls, cancel), query info and the query list, cluster stats
// and server info. Tests use it in place of a real cluster:
//
//	c := testcoordinator.New(testcoordinator.Options{Flavor: events.ProtocolTrino})
//	url, stop := c.Start()
//	defer stop()
//	c.Script("SELECT count(*) FROM big", testcoordinator.Result{Hold: true, ...})
//
// Queries run from scripts and are deterministic. Without a script, a small SQL subset runs
// by itself: SELECT followed by a comma-separated list of integer, string, TRUE, FALSE or
// NULL literals, each with an optional [AS] alias ("SELECT 1", "SELECT 42 AS answer, 'x'").
// Any other text fails with SYNTAX_ERROR (code 1, USER_ERROR) and an errorLocation, in
// the engine's error JSON. A script can keep its query QUEUED (HoldQueued) or RUNNING (Hold)
// until the test calls Release, or RUNNING for a Duration on an injectable Clock
// (ManualClock), so tests never sleep.
//
// Every request is recorded (Requests), with the SQL, parsed session headers and the
// authenticated principal of each query (Query, Queries). FailNext, SetUnavailable and
// SetStarting simulate a sick cluster.
//
// # Faithful behaviour
//
// As in the real coordinators:
//   - IDs have the engine format YYYYMMDD_HHMMSS_NNNNN_xxxxx, where the last part is the
//     coordinator ID.
//   - Trino URLs are /v1/statement/queued/{id}/{slug}/{token} and
//     /v1/statement/executing/{id}/{slug}/{token}, with a different HMAC-SHA1 slug ("y" + hex)
//     for every token. Presto URLs are /v1/statement/queued/{id}/{token}?slug= and
//     /v1/statement/executing/{id}/{token}?slug=, with one "x" + 32-hex slug per query.
//   - The POST (or PUT) only registers a query. The first GET of its nextUri submits it, and
//     only then does it appear in /v1/query, /v1/query/{id} and /v1/cluster.
//   - Queued token rule: the token must be the last one or the next one, otherwise 410.
//     Executing token rule: the last token again returns the same page byte for byte, an
//     older token gives 410, a token that is not the next one (or comes after the final page)
//     gives 404. A wrong slug gives 404 "Query not found".
//   - Trino moves the client from the queued URL to executing/{id}/{slug}/0. Presto returns
//     the first executing page inline from the queued GET.
//   - The first response says QUEUED (Trino), or WAITING_FOR_PREREQUISITES (Presto).
//   - Data pages carry the query's state: once the result is ready it says FINISHED while a
//     nextUri is still present. The final page has no nextUri.
//   - Errors found when the query is submitted (syntax errors, impersonation denied, the
//     server still starting, a cancel that arrived before submission) come back from the
//     queued GET with state FAILED and no nextUri.
//   - Cancel with DELETE on the queued or executing URL (204), DELETE /v1/query/{id} (204,
//     also for unknown IDs), or PUT /v1/query/{id}/killed (202; 409 if done; 410 if
//     unknown). The query then FAILS with USER_CANCELED "Query was canceled", or
//     ADMINISTRATIVELY_KILLED, and later polls return that error.
//   - DELETE /v1/query/{id} of a query that was registered but never polled does nothing,
//     as on Trino, whose dispatcher does not know the query yet. DELETE on its queued URL
//     takes effect when it is submitted.
//   - GET /v1/query/{id} answers 410 for unknown or never-polled IDs.
//   - Presto PUT /v1/statement/{id}?slug= creates the query under the caller's ID. A repeated
//     PUT with the same slug before the first poll returns the same initial results; a
//     different slug, or any PUT after the first poll, gives 409 "Query already exists"
//     (text/plain).
//   - Authentication, Trino without passwords: POST /v1/statement and /v1/query need
//     X-Trino-User or a Basic user, otherwise 401 with WWW-Authenticate: Basic realm="Trino"
//     and "Basic authentication or X-Trino-Original-User or X-Trino-User must be sent". A
//     password is refused with 401 "Password not allowed for insecure authentication".
//     Queued and executing URLs are public: the slug is the capability.
//   - Authentication, Presto without passwords: a POST or PUT without X-Presto-User gets 400
//     "User must be set".
//   - Authentication with Options.BasicAuth: a missing or wrong password gets 401 with
//     WWW-Authenticate. Presto then also protects its polls; /v1/info stays public.
//   - X-Presto-* headers on a Trino coordinator, and X-Trino-* headers on a Presto one, are
//     ignored, as Trino does without protocol.v1.alternate-header-name.
//   - Malformed session headers give 400. An empty statement gives 400 "SQL statement is
//     empty".
//
// # Deliberate differences from a real coordinator
//
//   - Cluster stats: /v1/cluster serves Trino's ClusterStats document for the Trino flavor.
//     Current Trino releases serve it only at /ui/api/stats, behind web UI authentication,
//     and answer 404 on /v1/cluster; set Options.NoClusterStats to get that 404. /ui/api/stats
//     is not served. The Presto flavor serves Presto's fields, without activeCoordinators and
//     totalAvailableProcessors.
//   - Values: activeWorkers, totalAvailableProcessors and runningDrivers (one per running
//     query) come from Options. The node version defaults to "476" (Trino) or "0.293"
//     (Presto).
//   - Paging: a result is cut into pages of Options.PageRows rows. targetResultSize is
//     ignored, and so is X-Trino-Query-Data-Encoding: there is no spooling protocol, as on a
//     Trino where spooling is disabled.
//   - Long polls wait at most Options.MaxWait (default 1s, lowered by ?maxWait=) and end
//     early on any state change.
//   - A cancel through the queued URL before submission takes effect on submission for both
//     flavors. Real Presto fails that request with a 500.
//   - A PUT without ?slug= gets 400 (Presto: 500). A PUT whose ID does not match [_a-z0-9]+
//     gets 404, as JAX-RS answers a failed path-parameter conversion.
//   - Access control allows everything, like Trino's allow-all: any user may view, list and
//     kill any query. With BasicAuth, any authenticated principal may impersonate any user
//     unless Options.CanImpersonate says no. A denied impersonation fails the query on
//     submission with PERMISSION_DENIED, for both flavors.
//   - Password authentication works over plain HTTP, as with
//     http-server.authentication.allow-insecure-over-http=true.
//   - HEAD /v1/statement is not served, as before Trino 469, so the Trino Go client's Ping
//     skips its credentials check.
//   - Message texts for syntax errors and authentication failures are the test coordinator's
//     own. Only the shape, error code, name, type and location are faithful.
//   - QueryInfo and BasicQueryInfo carry a subset of the real fields: queryId, state,
//     scheduled, self, query, queryType, session{…}, queryStats{…}, errorType, errorCode,
//     failureInfo, warnings. Optional fields that Trino writes as null are omitted.
//     session.path is a plain string, not Trino's SqlPath object. Extra credentials are not
//     shown, as on Trino; tests read them with Query. In queryStats, CPU time, processed
//     rows and input bytes appear only once the query is done; while it runs, it reserves
//     the script's PeakMemory as user memory.
//   - StatementStats has no Presto-only fields (waitingForPrerequisites and
//     peakTotalMemoryBytes), and QueryError.retriable is omitted when false.
//   - Result sets come from scripts. Response headers never change the session (no
//     Set-Catalog, Set-Session, Added-Prepare, …), and no transactions are kept.
package testcoordinator
