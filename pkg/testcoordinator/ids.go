package testcoordinator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Slug contexts, as Trino's Slug.Context ordinals.
const (
	slugQueued    = 0
	slugExecuting = 1
)

// newIDLocked mints a query ID in the engines' format YYYYMMDD_HHMMSS_NNNNN_coordinator;
// c.mu must be held.
func (c *Coordinator) newIDLocked(now time.Time) string {
	for {
		id := fmt.Sprintf("%s_%05d_%s", now.UTC().Format("20060102_150405"), c.counter%100000, c.opts.CoordinatorID)
		c.counter++
		if c.queries[id] == nil {
			return id
		}
	}
}

// newSlugKey returns a random per-query key for Trino slugs.
func newSlugKey() []byte {
	k := make([]byte, 16)
	_, _ = rand.Read(k)
	return k
}

// trinoSlug is "y" + hex(HMAC-SHA1(key, context ‖ token)): a different slug per URL.
func trinoSlug(key []byte, context int32, token int64) string {
	m := hmac.New(sha1.New, key)
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(context))
	binary.BigEndian.PutUint64(b[4:], uint64(token))
	m.Write(b[:])
	return "y" + hex.EncodeToString(m.Sum(nil))
}

// newPrestoSlug is "x" + 32 lowercase hex characters, like a UUID without dashes.
func newPrestoSlug() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "x" + hex.EncodeToString(b)
}

// validQueryID reports whether id matches [_a-z0-9]+, the engines' QueryId check.
func validQueryID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if ch != '_' && (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') {
			return false
		}
	}
	return true
}
