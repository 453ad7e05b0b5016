// Package routing resolves the routing group of a query: the name that tells placement
// which clusters may run it (framework's RoutingGroup filter).
//
// A client may name the group itself with the X-Trino-Routing-Group or
// X-Presto-Routing-Group header; a non-empty header value always wins. Otherwise the
// rules of a JSON configuration are tried in order and the first that matches gives the
// group:
//
//	{"defaultGroup": "adhoc",
//	 "rules": [{"name": "etl", "user": "etl_.*", "source": "airflow.*",
//	            "clientTags": ["etl"], "queryType": "INSERT", "group": "etl"}]}
//
// A rule matches when every condition it has holds: user and source are regular
// expressions that must match the whole value (they are anchored), clientTags must all be
// among the query's client tags, and queryType must equal the query's type (one of
// Trino's query types, see QueryTypes). A rule without conditions matches every query.
// When no rule matches, the group is defaultGroup, which may be "" (the default group).
//
// This package does not classify SQL: the caller passes the query type it already has.
package routing
