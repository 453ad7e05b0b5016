package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
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
		if err := putIfChanged(ctx, kv, events.KeyUserGroups, data); err != nil {
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
				return putIfChanged(ctx, kv, events.KeyResourceGroups, data)
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

func putIfChanged(ctx context.Context, kv jetstream.KeyValue, key string, data []byte) error {
	if e, err := kv.Get(ctx, key); err == nil && bytes.Equal(e.Value(), data) {
		return nil
	} else if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("admission: read %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("admission: publish %s: %w", key, err)
	}
	return nil
}

// watchConfig applies every valid change of the bucket's keys, live.
func (s *service) watchConfig(ctx context.Context, kv jetstream.KeyValue) {
	w, err := kv.Watch(ctx, events.KeyResourceGroups, jetstream.UpdatesOnly())
	if err != nil {
		s.log.Error("cannot watch the resource-group configuration", "err", err)
		return
	}
	defer func() { _ = w.Stop() }()
	uw, err := kv.Watch(ctx, events.KeyUserGroups, jetstream.UpdatesOnly())
	if err != nil {
		s.log.Error("cannot watch the user-group mapping", "err", err)
		return
	}
	defer func() { _ = uw.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			s.applyResourceGroups(e.Value(), e.Revision())
		case e, ok := <-uw.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			ug, err := rgspec.ParseUserGroups(e.Value())
			if err != nil {
				s.log.Error("invalid user-group mapping; the last good one stays in force", "err", err)
				continue
			}
			s.mu.Lock()
			s.userGroups = ug
			s.mu.Unlock()
			s.log.Info("user-group mapping applied", "revision", e.Revision(), "users", len(ug))
		}
	}
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
	if s.cfg.ResourceGroupsFile == "" && s.cfg.UserGroupsFile == "" {
		return
	}
	last := map[string][]byte{}
	check := func(path, key string, validate func([]byte) error) {
		if path == "" {
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if !bytes.Equal(last[path], []byte("\x00unreadable")) {
				s.log.Error("cannot read configuration file; the last good configuration stays in force", "file", path, "err", err)
			}
			last[path] = []byte("\x00unreadable")
			return
		}
		if bytes.Equal(data, last[path]) {
			return
		}
		last[path] = data
		if err := validate(data); err != nil {
			s.log.Error("invalid configuration file; the last good configuration stays in force", "file", path, "err", err)
			return
		}
		if err := putIfChanged(ctx, kv, key, data); err != nil && ctx.Err() == nil {
			s.log.Error("cannot publish configuration", "file", path, "err", err)
			delete(last, path)
		}
	}
	t := time.NewTicker(s.cfg.ConfigPoll)
	defer t.Stop()
	for {
		check(s.cfg.ResourceGroupsFile, events.KeyResourceGroups, func(b []byte) error { _, err := rgspec.Parse(b); return err })
		check(s.cfg.UserGroupsFile, events.KeyUserGroups, func(b []byte) error { _, err := rgspec.ParseUserGroups(b); return err })
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
