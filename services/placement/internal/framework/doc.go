// Package framework decides which cluster runs a query. It is placement's decision logic
// without any I/O: the caller hands Place a query, a snapshot of the fleet and the current
// time, and gets back a Decision that names the chosen cluster and explains every
// candidate.
//
// The shape follows the Kubernetes scheduler framework, cut down to what cluster choice
// needs:
//
//   - Filter plugins (FilterPlugin) each answer "can this cluster take this query now?".
//     Filters run in profile order and a cluster is dropped at the first one that fails;
//     that plugin and its reason are recorded, and later filters do not run for it.
//   - Score plugins (ScorePlugin) rate every cluster that passed all filters from 0 to
//     MaxScore. A score plugin whose scores only make sense relative to the other
//     candidates (Weight) also implements NormalizeScorePlugin, which rescales the scores of
//     one decision together. The total of a cluster is the sum of score × weight.
//   - The cluster with the highest total wins; ties go to the cluster with fewer queries
//     placed on it (Cluster.Placed), then to the smaller name, so the choice never depends
//     on the order of the input.
//
// A Profile names the enabled filters (in order) and the weighted score plugins. Profiles
// come from JSON (ParseConfig) or from DefaultProfile, and New turns one into a Framework
// with the plugins built from a Registry of constructors keyed by plugin name.
//
// Built-in plugins: Healthy, NotDraining, RoutingGroup, EngineCapability, Capacity and
// MemoryHeadroom filter; DataLocality and MemoryHeadroom filter and score; RegionAffinity,
// LeastLoaded and Weight score. Each is documented on its type.
package framework
