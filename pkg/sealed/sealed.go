// Package sealed encrypts a client's credentials (its Authorization header) so that they
// can travel inside a query's events to the executor-proxy that forwards them to a
// coordinator, without being readable by whoever reads the QUERIES log or its backups.
// Ingest seals with the key of SLUICE_CREDENTIALS_KEY; the executor-proxies open with the
// same key. AES-256-GCM, with the query ID as additional data, so a sealed value copied to
// another query does not open.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// prefix marks the format of a sealed value.
const prefix = "v1."

// ErrOpen: the value was not sealed with this key for this query, or is damaged.
var ErrOpen = errors.New("sealed: cannot open (another key, another query, or damaged)")

// Key seals and opens credentials.
type Key struct {
	aead cipher.AEAD
}

// ParseKey reads a key given as 32 bytes in base64 (standard or URL alphabet, padded or
// not), e.g. the output of `openssl rand -base64 32`.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sealed: the key is not base64: %w", err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("sealed: the key has %d bytes, want 32 (e.g. `openssl rand -base64 32`)", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

// Seal encrypts plaintext for queryID.
func (k *Key) Seal(queryID, plaintext string) (string, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealed: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(queryID))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for queryID; ErrOpen when it cannot.
func (k *Key) Open(queryID, value string) (string, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return "", ErrOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < k.aead.NonceSize() {
		return "", ErrOpen
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(queryID))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
