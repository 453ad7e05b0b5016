package framework

import (
	"encoding/json"
	"fmt"
)

// Profile is one named placement policy: the filters to run, in order, and the score
// plugins with their weights. Build a Framework from it with New.
type Profile struct {
	// Name identifies the profile in a configuration.
	Name string `json:"name"`
	// Filters are the filter plugins, in the order they run.
	Filters []string `json:"filters,omitempty"`
	// Scores are the score plugins with their weights.
	Scores []WeightedPlugin `json:"scores,omitempty"`
	// PluginArgs holds the arguments of plugins that take some, keyed by plugin name
	// (e.g. "Healthy": {"heartbeatTimeout": "5s"}). Only enabled plugins may have args.
	PluginArgs map[string]json.RawMessage `json:"pluginArgs,omitempty"`
}

// WeightedPlugin is a score plugin enabled in a profile with its weight.
type WeightedPlugin struct {
	// Name is the plugin's name.
	Name string `json:"name"`
	// Weight multiplies the plugin's score in the total; it must be >= 1 (in JSON an
	// omitted weight is 1).
	Weight int64 `json:"weight"`
}

// DefaultProfileName is the name of DefaultProfile.
const DefaultProfileName = "default"

// DefaultProfile returns the profile "default", which enables every built-in plugin:
//
//	filters: Healthy, NotDraining, RoutingGroup, EngineCapability, DataLocality,
//	         Capacity, MemoryHeadroom
//	scores:  LeastLoaded×3, DataLocality×2, RegionAffinity×2, MemoryHeadroom×1, Weight×1
//
// The filters that are cheap and explain the most come first. Load weighs most, so
// queries spread; data locality and region come next and break ties between similarly
// loaded clusters; memory headroom and operator weights nudge.
func DefaultProfile() Profile {
	return Profile{
		Name: DefaultProfileName,
		Filters: []string{NameHealthy, NameNotDraining, NameRoutingGroup, NameEngineCapability,
			NameDataLocality, NameCapacity, NameMemoryHeadroom},
		Scores: []WeightedPlugin{
			{Name: NameLeastLoaded, Weight: 3},
			{Name: NameDataLocality, Weight: 2},
			{Name: NameRegionAffinity, Weight: 2},
			{Name: NameMemoryHeadroom, Weight: 1},
			{Name: NameWeight, Weight: 1},
		},
	}
}

// SetArgs stores args, marshalled to JSON, as the arguments of plugin (for example
// HealthyArgs for "Healthy"). They are checked when the profile is built by New.
func (p *Profile) SetArgs(plugin string, args any) error {
	data, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("%w: pluginArgs.%s: %v", ErrInvalidConfig, plugin, err)
	}
	if p.PluginArgs == nil {
		p.PluginArgs = map[string]json.RawMessage{}
	}
	p.PluginArgs[plugin] = data
	return nil
}

// Config is a set of profiles, as read from a configuration file by ParseConfig.
type Config struct {
	// Profiles are the profiles, in file order.
	Profiles []Profile
	built    []*Framework
}

// Framework returns the framework of the profile called name, or of the first profile
// when name is "". It fails with ErrUnknownProfile when there is no such profile. The
// frameworks of a Config from ParseConfig are built once, by ParseConfig, and shared; a
// Config assembled by hand gets a new framework per call, built by New with the default
// registry.
func (c *Config) Framework(name string) (*Framework, error) {
	for i, p := range c.Profiles {
		if p.Name != name && (name != "" || i > 0) {
			continue
		}
		if i < len(c.built) {
			return c.built[i], nil
		}
		return New(p, nil)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProfile, name)
}
