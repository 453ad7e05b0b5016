// Package rgspec reads Presto/Trino resource-group files and selects the group a query
// belongs to.
//
// Parse accepts the JSON of Trino's and prestodb's file resource-group manager
// ({"rootGroups": [...], "selectors": [...], "cpuQuotaPeriod": "1h"}) and validates it,
// reporting every problem with its JSON path ("rootGroups[1].subGroups[0].maxQueued:
// must be >= 0"). Config.Select runs the selectors in order, first match wins, and
// expands the chosen template ("global.adhoc.${USER}") into a group ID (pkg/sqltext
// derives a selector's queryType from SQL text), and ParseUserGroups reads Trino's
// file group provider format for userGroup selectors.
//
// Semantics follow Trino's ResourceGroupSpec, SelectorSpec, StaticSelector,
// ResourceGroupNameTemplate and SelectorResourceEstimate: regexes must match the whole
// value; ${USER} is the session user and ${SOURCE} the source ("" when the client sent
// none); variable names are a letter followed by letters and digits; a value substituted
// into a template is used as is, even when it contains "." (Trino neither replaces nor
// escapes it, so key groups by ID segments rather than by GroupIDString); resource
// estimate ranges are inclusive at both ends, and a selector with a range does not match
// a query without that estimate. A group's schedulingPolicy is kept as written ("" when
// absent); callers apply the defaults: fair, and query_priority under a query_priority
// ancestor.
//
// Deliberate differences from Trino and prestodb:
//
//   - softMemoryLimit is optional; an absent one is no memory limit. Trino and prestodb
//     require it. Percentages above 100% are rejected, as in current Trino.
//   - Unknown fields are errors, as in Trino (which enables Jackson's
//     FAIL_ON_UNKNOWN_PROPERTIES) but not in prestodb (which ignores them). The fields
//     of either system are accepted. Of those, these are type-checked but not enforced,
//     and are listed in GroupSpec.Unenforced or Config.Unenforced: id,
//     softPhysicalDataScanLimit, hardPhysicalDataScanLimit, perQueryLimits
//     (executionTimeLimit, totalMemoryLimit, cpuTimeLimit), workersPerQueryLimit, and the
//     top-level physicalDataScanQuotaPeriod. jmxExport is read into GroupSpec.JMXExport.
//     The selector fields clientInfo, principal and schema (prestodb) and queryText
//     (Trino) are matched like the others.
//   - JSON types are strict: integers must be whole JSON numbers that fit a Java int
//     (Jackson would also take "5" and truncate 1.5), durations and data sizes must be
//     strings, jmxExport must be a boolean. An explicit null is the same as an absent field.
//   - rootGroups must not be empty.
//   - hardConcurrencyLimit and its deprecated alias maxRunning may both be given only with
//     the same value (Trino silently prefers hardConcurrencyLimit).
//   - A selector's group must exist and be a leaf. Trino checks only that it exists, and
//     fails queries sent to a group with sub-groups at run time.
//   - softCpuLimit, hardCpuLimit and cpuQuotaPeriod must be greater than zero.
//   - Trino's scheduling-weight checks are not enforced (when a group's policy is weighted
//     or weighted_fair, all or none of its sub-groups give schedulingWeight; under fair or
//     query_priority none does). prestodb does not have them, and Sluice's own example
//     configuration gives weights to some siblings only; a missing weight is 1.
//   - Named captures of every selector regex (also userGroup, clientInfo, principal,
//     schema, queryText) become template variables; Trino takes them from user,
//     originalUser, authenticatedUser and source only. For userGroup they come from the
//     first of Input.UserGroups that matches. A name may be defined by one field only,
//     and not as USER or SOURCE, as in Trino.
//   - Regexes are Java syntax in the file but compiled by Go's RE2, which reads the common
//     subset including (?<name>...). Java-only constructs (lookaround, backreferences,
//     possessive quantifiers, atomic groups) are reported as invalid regexes. Java's
//     class intersection ([a-z&&[^e]]) is read by RE2 as a plain class: do not use it.
//   - An empty Input field (Source, AuthenticatedUser, ClientInfo, Principal, Schema)
//     means absent: a selector on it does not match, whatever its regex.
//   - When the first matching selector cannot be expanded (a named capture took no part,
//     or a segment comes out empty), Select reports no match. Trino fails the query too,
//     without trying later selectors.
package rgspec
