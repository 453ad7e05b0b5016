package configkv_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/pkg/configkv"
	"github.com/sluicehq/sluice/pkg/natstest"
)

func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	_, conn := natstest.RunJetStream(t)
	kv, err := conn.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "CFG", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestFileSync: a valid file is published once per version; an invalid one or an
// unreadable one is reported and leaves the key as it was.
func TestFileSync(t *testing.T) {
	t.Parallel()
	kv := bucket(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cfg.json")
	f := &configkv.File{Path: path, Key: "k", Validate: func(b []byte) error {
		if string(b) == "bad" {
			return errors.New("bad file")
		}
		return nil
	}}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	value := func() (string, uint64) {
		e, err := kv.Get(ctx, "k")
		if err != nil {
			return "", 0
		}
		return string(e.Value()), e.Revision()
	}
	if err := f.Sync(ctx, kv); err == nil {
		t.Fatal("a missing file synced without an error")
	}
	write("v1")
	if err := f.Sync(ctx, kv); err != nil {
		t.Fatal(err)
	}
	v, rev := value()
	if v != "v1" {
		t.Fatalf("key = %q, want v1", v)
	}
	if err := f.Sync(ctx, kv); err != nil {
		t.Fatal(err)
	}
	if _, again := value(); again != rev {
		t.Fatalf("an unchanged file was published again (revision %d -> %d)", rev, again)
	}
	write("bad")
	if err := f.Sync(ctx, kv); err == nil {
		t.Fatal("an invalid file synced without an error")
	}
	if v, _ := value(); v != "v1" {
		t.Fatalf("an invalid file replaced the key: %q", v)
	}
	write("v2")
	if err := f.Sync(ctx, kv); err != nil {
		t.Fatal(err)
	}
	if v, _ := value(); v != "v2" {
		t.Fatalf("key = %q, want v2", v)
	}
}

// TestWatch: the current value first (unless updates only), then every put and deletion.
func TestWatch(t *testing.T) {
	t.Parallel()
	kv := bucket(t)
	ctx := t.Context()
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var all, updates []string
	record := func(into *[]string) func([]byte, uint64) {
		return func(data []byte, _ uint64) {
			mu.Lock()
			defer mu.Unlock()
			if data == nil {
				*into = append(*into, "<deleted>")
			} else {
				*into = append(*into, string(data))
			}
		}
	}
	if err := configkv.Watch(ctx, kv, "k", false, record(&all)); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the current value", func() bool { mu.Lock(); defer mu.Unlock(); return len(all) == 1 })
	if err := configkv.Watch(ctx, kv, "k", true, record(&updates)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	// The bucket keeps one value per key: a watch sees the latest, so wait for v2 first.
	natstest.Eventually(t, 5*time.Second, "the put", func() bool { mu.Lock(); defer mu.Unlock(); return len(all) == 2 && len(updates) == 1 })
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the put and the deletion", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(all) == 3 && len(updates) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if all[0] != "v1" || all[1] != "v2" || all[2] != "<deleted>" || updates[0] != "v2" || updates[1] != "<deleted>" {
		t.Fatalf("all %q, updates only %q", all, updates)
	}
}
