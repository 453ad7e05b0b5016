package framework

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/sluicehq/sluice/pkg/confcheck"
)

// The JSON shapes read by ParseConfig and ParseProfile. Elements are kept raw so that each
// is decoded on its own and an unknown field is reported with its element's path.
type (
	configJSON struct {
		Profiles []json.RawMessage `json:"profiles"`
	}
	profileJSON struct {
		Name       string                     `json:"name"`
		Filters    []string                   `json:"filters"`
		Scores     []json.RawMessage          `json:"scores"`
		PluginArgs map[string]json.RawMessage `json:"pluginArgs"`
	}
	weightedJSON struct {
		Name   string `json:"name"`
		Weight *int64 `json:"weight"`
	}
)

// ParseConfig reads a configuration of several profiles,
//
//	{"profiles": [{"name": "default", "filters": ["Healthy", ...],
//	               "scores": [{"name": "LeastLoaded", "weight": 2}, ...],
//	               "pluginArgs": {"Healthy": {"heartbeatTimeout": "5s"}}}, ...]}
//
// checks it against reg (DefaultRegistry when nil) and builds a Framework per profile.
// Unknown fields are errors. On failure it returns a *ValidationError listing every
// problem with its JSON path, e.g.
// `profiles[0].scores[1].name: unknown plugin "LeastLoad" (did you mean "LeastLoaded"?)`.
func ParseConfig(data []byte, reg Registry) (*Config, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	var raw configJSON
	if err := decodeStrict(data, &raw); err != nil {
		return nil, invalid([]FieldError{confcheck.Locate("", err)})
	}
	var errs []FieldError
	if len(raw.Profiles) == 0 {
		errs = append(errs, FieldError{Path: "profiles", Message: "at least one profile is required"})
	}
	cfg := &Config{}
	seen := map[string]int{}
	for i, rp := range raw.Profiles {
		path := confcheck.Index("profiles", i)
		p, perrs := decodeProfile(path, rp)
		errs = append(errs, perrs...)
		if perrs != nil {
			continue
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			errs = append(errs, FieldError{Path: confcheck.Join(path, "name"), Message: fmt.Sprintf("duplicate profile %q (also profiles[%d])", p.Name, j)})
			continue
		}
		seen[p.Name] = i
		f, berrs := build(path, p, reg)
		errs = append(errs, berrs...)
		cfg.Profiles = append(cfg.Profiles, p)
		cfg.built = append(cfg.built, f)
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return cfg, nil
}

// ParseProfile reads one profile object (the elements of ParseConfig's "profiles") and
// checks it against reg (DefaultRegistry when nil). Errors are as for ParseConfig, with
// paths relative to the profile.
func ParseProfile(data []byte, reg Registry) (Profile, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	p, errs := decodeProfile("", data)
	if errs == nil {
		_, errs = build("", p, reg)
	}
	if len(errs) > 0 {
		return Profile{}, invalid(errs)
	}
	return p, nil
}

// decodeProfile decodes the profile at path. It reports decoding problems only; build
// checks the content.
func decodeProfile(path string, data []byte) (Profile, []FieldError) {
	var rp profileJSON
	if err := decodeStrict(data, &rp); err != nil {
		return Profile{}, []FieldError{confcheck.Locate(path, err)}
	}
	p := Profile{Name: rp.Name, Filters: rp.Filters, PluginArgs: rp.PluginArgs}
	var errs []FieldError
	for i, rs := range rp.Scores {
		var w weightedJSON
		if err := decodeStrict(rs, &w); err != nil {
			errs = append(errs, confcheck.Locate(confcheck.Index(confcheck.Join(path, "scores"), i), err))
			continue
		}
		wp := WeightedPlugin{Name: w.Name, Weight: 1}
		if w.Weight != nil {
			wp.Weight = *w.Weight
		}
		p.Scores = append(p.Scores, wp)
	}
	return p, errs
}

// New builds the framework of profile p with the plugins of reg (DefaultRegistry when
// nil). It returns a *ValidationError when the profile is not valid: no name, an unknown
// or duplicate plugin, a filter that is not a FilterPlugin, a score plugin that is not a
// ScorePlugin, a weight below 1, or arguments that a plugin rejects or that belong to a
// plugin the profile does not enable.
func New(p Profile, reg Registry) (*Framework, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	f, errs := build("", p, reg)
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return f, nil
}

// builder collects the plugins of one profile and the problems found.
type builder struct {
	reg     Registry
	path    string
	names   []string
	p       Profile
	errs    []FieldError
	plugins map[string]Plugin
}

// build checks profile p, found at path, and builds its framework.
func build(path string, p Profile, reg Registry) (*Framework, []FieldError) {
	b := &builder{reg: reg, path: path, names: reg.Names(), p: p, plugins: map[string]Plugin{}}
	if p.Name == "" {
		b.fail(confcheck.Join(path, "name"), "must not be empty")
	}
	b.checkArgs()
	f := &Framework{profile: p.Name}
	seen := map[string]string{}
	for i, name := range p.Filters {
		at := confcheck.Index(confcheck.Join(path, "filters"), i)
		if !b.unique(at, name, seen) {
			continue
		}
		pl := b.plugin(at, name)
		if pl == nil {
			continue
		}
		fp, ok := pl.(FilterPlugin)
		if !ok {
			b.fail(at, fmt.Sprintf("plugin %q is not a filter plugin", name))
			continue
		}
		f.filters = append(f.filters, fp)
		f.filterNames = append(f.filterNames, name)
	}
	seen = map[string]string{}
	for i, w := range p.Scores {
		at := confcheck.Index(confcheck.Join(path, "scores"), i)
		if w.Weight < 1 {
			b.fail(confcheck.Join(at, "weight"), fmt.Sprintf("must be >= 1, got %d", w.Weight))
		}
		if !b.unique(confcheck.Join(at, "name"), w.Name, seen) {
			continue
		}
		pl := b.plugin(confcheck.Join(at, "name"), w.Name)
		if pl == nil {
			continue
		}
		sp, ok := pl.(ScorePlugin)
		if !ok {
			b.fail(confcheck.Join(at, "name"), fmt.Sprintf("plugin %q is not a score plugin", w.Name))
			continue
		}
		np, _ := sp.(NormalizeScorePlugin)
		f.scorers = append(f.scorers, sp)
		f.normalizers = append(f.normalizers, np)
		f.weights = append(f.weights, w.Weight)
		f.scoreInfo = append(f.scoreInfo, WeightedPlugin{Name: w.Name, Weight: w.Weight})
	}
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	f.pool.New = func() any { return new(scratch) }
	return f, nil
}

func (b *builder) fail(path, msg string) {
	b.errs = append(b.errs, FieldError{Path: path, Message: msg})
}

// unique records that name is enabled at path, and reports a duplicate.
func (b *builder) unique(path, name string, seen map[string]string) bool {
	if first, dup := seen[name]; dup {
		b.fail(path, fmt.Sprintf("duplicate plugin %q (also at %s)", name, first))
		return false
	}
	seen[name] = path
	return true
}

// plugin returns the plugin called name, building it on first use, or nil after
// recording why it cannot be built.
func (b *builder) plugin(path, name string) Plugin {
	if pl, ok := b.plugins[name]; ok {
		return pl // nil when building it failed before
	}
	b.plugins[name] = nil
	factory, ok := b.reg[name]
	if !ok {
		b.fail(path, b.unknown(name))
		return nil
	}
	pl, err := factory(b.p.PluginArgs[name])
	if err != nil {
		fe := confcheck.Locate(confcheck.Join(confcheck.Join(b.path, "pluginArgs"), name), err)
		b.fail(fe.Path, fe.Message)
		return nil
	}
	if pl == nil || pl.Name() != name {
		b.fail(path, fmt.Sprintf("the factory registered as %q builds another plugin", name))
		return nil
	}
	b.plugins[name] = pl
	return pl
}

// checkArgs reports arguments of unknown plugins and of plugins the profile does not
// enable, in name order.
func (b *builder) checkArgs() {
	enabled := map[string]bool{}
	for _, n := range b.p.Filters {
		enabled[n] = true
	}
	for _, w := range b.p.Scores {
		enabled[w.Name] = true
	}
	names := make([]string, 0, len(b.p.PluginArgs))
	for n := range b.p.PluginArgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		at := confcheck.Join(confcheck.Join(b.path, "pluginArgs"), n)
		switch {
		case b.reg[n] == nil:
			b.fail(at, b.unknown(n))
		case !enabled[n]:
			b.fail(at, fmt.Sprintf("plugin %q is not enabled in this profile", n))
		}
	}
}

func (b *builder) unknown(name string) string {
	msg := fmt.Sprintf("unknown plugin %q", name)
	if s := suggest(name, b.names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// suggest returns the registered name closest to a misspelt one, or "".
func suggest(name string, names []string) string { return confcheck.Suggest(name, names) }
