package framework

// Query is what placement needs to know of a query to choose its cluster.
type Query struct {
	// ID is the query ID.
	ID string
	// Kind is SQL text or a plan.
	Kind Kind
	// RoutingGroup is the routing group already resolved for the query (see package
	// routing); "" means the default group.
	RoutingGroup string
	// Tables are the tables the query reads, lower-case "catalog.schema.table"; empty
	// when not known.
	Tables []string
	// Region is the preferred region; "" means no preference.
	Region string
	// MemoryBytes is the declared memory estimate; 0 means unknown.
	MemoryBytes int64
	// User is the user the query runs as.
	User string
	// Source is the client's source string.
	Source string
}
