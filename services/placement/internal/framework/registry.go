package framework

import (
	"encoding/json"
	"fmt"
	"sort"
)

// The names of the built-in plugins, as written in profiles.
const (
	NameHealthy          = "Healthy"
	NameNotDraining      = "NotDraining"
	NameRoutingGroup     = "RoutingGroup"
	NameEngineCapability = "EngineCapability"
	NameCapacity         = "Capacity"
	NameDataLocality     = "DataLocality"
	NameRegionAffinity   = "RegionAffinity"
	NameLeastLoaded      = "LeastLoaded"
	NameMemoryHeadroom   = "MemoryHeadroom"
	NameWeight           = "Weight"
)

// Factory builds a plugin from its arguments, the JSON value of the plugin's entry in
// the profile's pluginArgs (nil when there is none). It returns an error for arguments it
// does not accept; the error message should name the offending field, or the error be a
// FieldError whose Path is relative to args ("heartbeatTimeout").
type Factory func(args json.RawMessage) (Plugin, error)

// Registry maps plugin names to their factories.
type Registry map[string]Factory

// DefaultRegistry returns a new registry holding every built-in plugin.
func DefaultRegistry() Registry {
	return Registry{
		NameHealthy:          newHealthyFromArgs,
		NameNotDraining:      noArgs(NotDraining{}),
		NameRoutingGroup:     noArgs(RoutingGroup{}),
		NameEngineCapability: noArgs(EngineCapability{}),
		NameCapacity:         noArgs(Capacity{}),
		NameDataLocality:     noArgs(DataLocality{}),
		NameRegionAffinity:   noArgs(RegionAffinity{}),
		NameLeastLoaded:      noArgs(LeastLoaded{}),
		NameMemoryHeadroom:   noArgs(MemoryHeadroom{}),
		NameWeight:           noArgs(Weight{}),
	}
}

// Register adds a factory under name. It fails with ErrDuplicatePlugin when the name is
// taken.
func (r Registry) Register(name string, f Factory) error {
	if _, ok := r[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicatePlugin, name)
	}
	r[name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// noArgs returns a factory for a plugin that takes no arguments.
func noArgs(p Plugin) Factory {
	return func(args json.RawMessage) (Plugin, error) {
		if len(args) > 0 && string(args) != "null" && string(args) != "{}" {
			return nil, fmt.Errorf("plugin %s takes no arguments", p.Name())
		}
		return p, nil
	}
}
