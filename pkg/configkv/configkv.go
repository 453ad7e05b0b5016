// Package configkv keeps a configuration file and its key in the SLUICE_CONFIG bucket in
// step: a service started with a file publishes every valid version of it, and every
// replica applies what the key holds, live. An invalid or unreadable file is logged and the
// last good version stays in force.
package configkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PutIfChanged stores data under key unless the key already holds exactly data.
func PutIfChanged(ctx context.Context, kv jetstream.KeyValue, key string, data []byte) error {
	if e, err := kv.Get(ctx, key); err == nil && bytes.Equal(e.Value(), data) {
		return nil
	} else if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("configkv: read %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("configkv: publish %s: %w", key, err)
	}
	return nil
}

// File is a configuration file published to a key.
type File struct {
	Path string
	Key  string
	// Validate rejects a version that must not be published.
	Validate func([]byte) error

	last       []byte
	unreadable bool
}

// Sync reads the file and publishes it when it changed and is valid. It reports the
// problem of a file that cannot be read or is invalid (once per version).
func (f *File) Sync(ctx context.Context, kv jetstream.KeyValue) error {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		if f.unreadable {
			return nil
		}
		f.unreadable, f.last = true, nil
		return fmt.Errorf("cannot read %s: %w", f.Path, err)
	}
	f.unreadable = false
	if f.last != nil && bytes.Equal(data, f.last) {
		return nil
	}
	f.last = data
	if err := f.Validate(data); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if err := PutIfChanged(ctx, kv, f.Key, data); err != nil {
		f.last = nil // try again next time
		return err
	}
	return nil
}

// Poll syncs the files every period until ctx ends; problems are logged and the last good
// versions stay in force.
func Poll(ctx context.Context, kv jetstream.KeyValue, every time.Duration, log *slog.Logger, files ...*File) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, f := range files {
			if err := f.Sync(ctx, kv); err != nil && ctx.Err() == nil {
				log.Error("configuration file not applied; the last good version stays in force", "file", f.Path, "err", err)
			}
		}
	}
}

// Watch calls apply with every value put under key (the current one first, unless
// updatesOnly) until ctx ends; deletions are passed as nil data. apply runs on one goroutine.
func Watch(ctx context.Context, kv jetstream.KeyValue, key string, updatesOnly bool, apply func(data []byte, revision uint64)) error {
	return Follow(ctx, kv, key, updatesOnly, func(_ string, data []byte, revision uint64) { apply(data, revision) })
}

// Follow calls fn with every entry of kv matching key (a key, a wildcard or
// jetstream.AllKeys), then every change until ctx ends, on one goroutine: with the value, or
// nil when the entry was deleted or purged. With updatesOnly the current entries are
// skipped.
func Follow(ctx context.Context, kv jetstream.KeyValue, key string, updatesOnly bool, fn func(key string, value []byte, revision uint64)) error {
	var opts []jetstream.WatchOpt
	if updatesOnly {
		opts = append(opts, jetstream.UpdatesOnly())
	}
	w, err := kv.Watch(ctx, key, opts...)
	if err != nil {
		return fmt.Errorf("configkv: watch %s %s: %w", kv.Bucket(), key, err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // end of the current entries
					continue
				}
				if e.Operation() != jetstream.KeyValuePut {
					fn(e.Key(), nil, e.Revision())
					continue
				}
				fn(e.Key(), e.Value(), e.Revision())
			}
		}
	}()
	return nil
}
