package framework

var statusKindUnspecified = NewStatus(Error, "query kind unspecified")

// EngineCapability filters out clusters that cannot run the query's kind. SQL runs on the
// duckdb, trino and presto engines, and on any cluster whose Capabilities hold KindSQL;
// plans (Substrait) run only where Capabilities hold KindPlan. A query of kind
// KindUnspecified gets an Error status on every cluster.
type EngineCapability struct{}

var _ FilterPlugin = EngineCapability{}

// Name returns "EngineCapability".
func (EngineCapability) Name() string { return NameEngineCapability }

// Filter rules c out when it cannot run q's kind.
func (EngineCapability) Filter(_ *CycleState, q *Query, c *Cluster) *Status {
	switch q.Kind {
	case KindUnspecified:
		return statusKindUnspecified
	case KindSQL:
		if runsSQL(c.Engine) || c.Capabilities.Has(KindSQL) {
			return nil
		}
	default:
		if c.Capabilities.Has(q.Kind) {
			return nil
		}
	}
	return engineStatuses.get(engineKind{c.Engine, q.Kind}, newEngineStatus)
}

type engineKind struct {
	engine string
	kind   Kind
}

var engineStatuses statusCache[engineKind]

func newEngineStatus(k engineKind) *Status {
	return NewStatus(Unschedulable, "engine "+engineName(k.engine)+" cannot run "+k.kind.String()+" queries")
}

func runsSQL(engine string) bool {
	switch engine {
	case "duckdb", "trino", "presto":
		return true
	}
	return false
}

func engineName(e string) string {
	if e == "" {
		return "(none)"
	}
	return e
}
