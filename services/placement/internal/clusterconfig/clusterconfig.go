// Package clusterconfig reads the fleet's static cluster attributes (SLUICE_CLUSTERS): for
// each cluster its routing group, region, weight, slot cap, the tables it serves and whether
// it runs plans. Heartbeats say how a cluster is; this file says what it is for.
//
//	{"clusters": [
//	  {"name": "local-1", "engine": "duckdb", "routingGroup": "adhoc", "region": "eu-west",
//	   "weight": 2, "maxSlots": 8, "tables": ["tpch.tiny.lineitem"], "plans": true}
//	]}
package clusterconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/events"
)

// Cluster is one cluster's static attributes.
type Cluster struct {
	Name string `json:"name"`
	// URL is informational for duckdb clusters; for trino and presto clusters it is the
	// coordinator the executor-proxy dispatches to.
	URL    string `json:"url,omitempty"`
	Engine string `json:"engine,omitempty"`
	// RoutingGroup: the cluster takes only queries of this routing group ("" = default).
	RoutingGroup string `json:"routingGroup,omitempty"`
	Region       string `json:"region,omitempty"`
	// Weight scales the cluster's share of placements (default 1).
	Weight int `json:"weight,omitempty"`
	// MaxSlots caps the slots the cluster reports (0 = no cap).
	MaxSlots int `json:"maxSlots,omitempty"`
	// Tables the cluster can serve ("catalog.schema.table"); empty = every table.
	Tables []string `json:"tables,omitempty"`
	// Plans: the cluster runs Substrait plans (duckdb clusters do by default).
	Plans *bool `json:"plans,omitempty"`
}

// RunsPlans reports whether the cluster takes Substrait plans.
func (c Cluster) RunsPlans() bool {
	if c.Plans != nil {
		return *c.Plans
	}
	return c.Engine == "" || c.Engine == "duckdb"
}

// Config is the whole file, by cluster name.
type Config struct {
	Clusters map[string]Cluster
}

// Engines a cluster may declare.
var Engines = []string{"duckdb", "trino", "presto"}

// Parse reads a cluster file; every problem is reported with its path
// ("clusters[1].maxSlots: must be >= 0").
func Parse(data []byte) (*Config, error) {
	var doc struct {
		Clusters []Cluster `json:"clusters"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("clusters file: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	var errs []error
	bad := func(i int, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("clusters[%d].%s: %s", i, field, fmt.Sprintf(format, args...)))
	}
	cfg := &Config{Clusters: map[string]Cluster{}}
	for i, c := range doc.Clusters {
		if err := events.ValidateClusterName(c.Name); err != nil {
			bad(i, "name", "%v", err)
		} else if _, dup := cfg.Clusters[c.Name]; dup {
			bad(i, "name", "cluster %q is listed twice", c.Name)
		}
		if c.Engine != "" && !slices.Contains(Engines, c.Engine) {
			bad(i, "engine", "must be one of %s, got %q", strings.Join(Engines, ", "), c.Engine)
		}
		if c.Weight < 0 {
			bad(i, "weight", "must be >= 0")
		}
		if c.MaxSlots < 0 {
			bad(i, "maxSlots", "must be >= 0")
		}
		if (c.Engine == "trino" || c.Engine == "presto") && c.URL == "" {
			bad(i, "url", "a %s cluster needs its coordinator's URL", c.Engine)
		}
		for j, t := range c.Tables {
			if strings.Count(t, ".") != 2 {
				bad(i, fmt.Sprintf("tables[%d]", j), "must be catalog.schema.table, got %q", t)
			}
		}
		if c.Weight == 0 {
			c.Weight = 1
		}
		cfg.Clusters[c.Name] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}
