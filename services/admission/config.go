package admission

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/configkv"
	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// The configuration in force lives in the SLUICE_CONFIG bucket (keys resource-groups and
// user-groups), so that every replica applies the same one. A replica started with a file
// validates it and publishes it there; an invalid file is logged with the path and field of
// every problem, and the last good configuration stays in force.

// DefaultResourceGroups is the configuration used when none is given: one group, global,
// with the service's MaxRunning and MaxQueued, that every query selects.
func DefaultResourceGroups(maxRunning, maxQueued int) []byte {
	return fmt.Appendf(nil, `{"rootGroups":[{"name":"global","maxQueued":%d,"hardConcurrencyLimit":%d,"softMemoryLimit":"100%%"}],"selectors":[{"group":"global"}]}`, maxQueued, maxRunning)
}

// loadConfig establishes the configuration at start: the file if one is set (published to
// the bucket), else the bucket's, else the default. An invalid file with no good
// configuration to fall back to stops the service.
func (s *service) loadConfig(ctx context.Context, kv jetstream.KeyValue) error {
	if s.cfg.UserGroupsFile != "" {
		data, err := os.ReadFile(s.cfg.UserGroupsFile)
		if err != nil {
			return fmt.Errorf("admission: user groups: %w", err)
		}
		ug, err := rgspec.ParseUserGroups(data)
		if err != nil {
			return fmt.Errorf("admission: user groups %s: %w", s.cfg.UserGroupsFile, err)
		}
		s.userGroups = ug
		if err := configkv.PutIfChanged(ctx, kv, events.KeyUserGroups, data); err != nil {
			return err
		}
	} else if e, err := kv.Get(ctx, events.KeyUserGroups); err == nil {
		if ug, err := rgspec.ParseUserGroups(e.Value()); err == nil {
			s.userGroups = ug
		}
	}

	var fileErr error
	if s.cfg.ResourceGroupsFile != "" {
		data, err := os.ReadFile(s.cfg.ResourceGroupsFile)
		if err == nil {
			var rg *rgspec.Config
			if rg, err = rgspec.Parse(data); err == nil {
				s.rg, s.rgText = rg, string(data)
				return configkv.PutIfChanged(ctx, kv, events.KeyResourceGroups, data)
			}
		}
		fileErr = fmt.Errorf("resource groups %s: %w", s.cfg.ResourceGroupsFile, err)
		s.log.Error("invalid resource-group file; keeping the configuration in the bucket", "file", s.cfg.ResourceGroupsFile, "err", err)
	}
	if e, err := kv.Get(ctx, events.KeyResourceGroups); err == nil {
		rg, perr := rgspec.Parse(e.Value())
		if perr == nil {
			s.rg, s.rgText = rg, string(e.Value())
			return nil
		}
		s.log.Error("invalid resource-group configuration in the bucket", "err", perr)
	}
	if fileErr != nil {
		return fmt.Errorf("%w: %v", ErrNoConfig, fileErr)
	}
	rg, err := rgspec.Parse(DefaultResourceGroups(s.cfg.MaxRunning, s.cfg.MaxQueued))
	if err != nil {
		return fmt.Errorf("%w: default: %v", ErrNoConfig, err)
	}
	s.rg, s.rgText = rg, ""
	return nil
}

// watchConfig applies every valid change of the bucket's keys, live.
func (s *service) watchConfig(ctx context.Context, kv jetstream.KeyValue) error {
	if err := configkv.Watch(ctx, kv, events.KeyResourceGroups, true, func(data []byte, revision uint64) {
		if data != nil {
			s.applyResourceGroups(data, revision)
		}
	}); err != nil {
		return err
	}
	return configkv.Watch(ctx, kv, events.KeyUserGroups, true, func(data []byte, revision uint64) {
		if data == nil {
			return
		}
		ug, err := rgspec.ParseUserGroups(data)
		if err != nil {
			s.log.Error("invalid user-group mapping; the last good one stays in force", "err", err)
			return
		}
		s.mu.Lock()
		s.userGroups = ug
		s.mu.Unlock()
		s.log.Info("user-group mapping applied", "revision", revision, "users", len(ug))
	})
}

func (s *service) applyResourceGroups(data []byte, revision uint64) {
	rg, err := rgspec.Parse(data)
	if err != nil {
		s.log.Error("invalid resource-group configuration; the last good one stays in force", "err", err)
		return
	}
	s.mu.Lock()
	if string(data) == s.rgText {
		s.mu.Unlock()
		return
	}
	s.rg, s.rgText = rg, string(data)
	if s.st != nil {
		s.st.Reconfigure(rg)
	}
	s.mu.Unlock()
	s.log.Info("resource-group configuration applied", "revision", revision, "rootGroups", len(rg.RootGroups), "selectors", len(rg.Selectors))
	s.poke()
}

// watchFiles re-reads the configured files every ConfigPoll and publishes valid changes.
func (s *service) watchFiles(ctx context.Context, kv jetstream.KeyValue) {
	var files []*configkv.File
	if s.cfg.ResourceGroupsFile != "" {
		files = append(files, &configkv.File{Path: s.cfg.ResourceGroupsFile, Key: events.KeyResourceGroups,
			Validate: func(b []byte) error { _, err := rgspec.Parse(b); return err }})
	}
	if s.cfg.UserGroupsFile != "" {
		files = append(files, &configkv.File{Path: s.cfg.UserGroupsFile, Key: events.KeyUserGroups,
			Validate: func(b []byte) error { _, err := rgspec.ParseUserGroups(b); return err }})
	}
	if len(files) > 0 {
		configkv.Poll(ctx, kv, s.cfg.ConfigPoll, s.log, files...)
	}
}
