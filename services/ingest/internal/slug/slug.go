// Package slug mints the query IDs and the URL capabilities (slugs) of queued URLs. Slugs
// are HMACs under a secret shared by every ingest replica, so any replica can verify a URL
// without shared state and nobody can forge one.
package slug

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Minter mints query IDs and slugs.
type Minter struct {
	secret  []byte
	tag     string
	counter atomic.Uint64
	now     func() time.Time
}

// NewMinter returns a minter using secret. Each minter has a random 5-character replica tag
// that ends every query ID it mints.
func NewMinter(secret []byte) *Minter {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	m := &Minter{secret: secret, tag: string(b), now: time.Now}
	var seed [2]byte
	_, _ = rand.Read(seed[:])
	m.counter.Store(uint64(seed[0])<<8 | uint64(seed[1]))
	return m
}

// NewID returns a query ID in the engines' format YYYYMMDD_HHMMSS_NNNNN_xxxxx (charset
// [_a-z0-9], accepted by Trino's and Presto's QueryId).
func (m *Minter) NewID() string {
	n := m.counter.Add(1) % 100000
	return fmt.Sprintf("%s_%05d_%s", m.now().UTC().Format("20060102_150405"), n, m.tag)
}

// Queued returns the Trino-style slug of a queued URL for (id, token): "y" + 32 hex.
func (m *Minter) Queued(id string, token uint64) string {
	return "y" + m.mac("queued", id, strconv.FormatUint(token, 10))
}

// Query returns the Presto-style slug that covers the whole query: "x" + 32 hex.
func (m *Minter) Query(id string) string { return "x" + m.mac("query", id) }

// CheckQueued reports whether slug is the queued slug of (id, token).
func (m *Minter) CheckQueued(id string, token uint64, slug string) bool {
	return hmac.Equal([]byte(slug), []byte(m.Queued(id, token)))
}

// CheckQuery reports whether slug is the query slug of id.
func (m *Minter) CheckQuery(id, slug string) bool {
	return hmac.Equal([]byte(slug), []byte(m.Query(id)))
}

func (m *Minter) mac(parts ...string) string {
	h := hmac.New(sha256.New, m.secret)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
