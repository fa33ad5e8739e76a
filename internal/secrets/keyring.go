// Package secrets encrypts secret region fields at rest with AES-256-GCM. A Keyring holds one
// primary key, used to encrypt, and any number of older keys, kept to decrypt values written
// before a rotation. Each ciphertext is stored beside the id of the key that made it.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNoKey is returned when a secret must be encrypted but no key is configured.
var ErrNoKey = errors.New("no encryption key is configured (set REGIOND_SECRET_KEY or --secret-key-file)")

// ErrUnknownKey is returned when a value was encrypted with a key the keyring does not hold.
var ErrUnknownKey = errors.New("the value was encrypted with a key this server does not have")

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring encrypts with its primary key and decrypts with any of its keys. The zero value and
// nil hold no key: they refuse to encrypt.
type Keyring struct {
	primary *key
	byID    map[string]*key
}

// GenerateKey returns a new random key in the form Parse reads.
func GenerateKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Parse reads keys separated by commas, spaces or new lines; each is 32 bytes in base64. The
// first is the primary key. Error messages never repeat key material.
func Parse(spec string) (*Keyring, error) {
	fields := strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	k := &Keyring{byID: map[string]*key{}}
	for i, f := range fields {
		raw, err := decodeKey(f)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i+1, err)
		}
		kk := &key{id: keyID(raw), aead: aead}
		if _, dup := k.byID[kk.id]; dup {
			return nil, fmt.Errorf("encryption key %d is listed twice", i+1)
		}
		k.byID[kk.id] = kk
		if k.primary == nil {
			k.primary = kk
		}
	}
	return k, nil
}

// Load builds a keyring from a key list (REGIOND_SECRET_KEY) or, when that is empty, from a
// file holding one. With neither it returns an empty keyring.
func Load(spec, file string) (*Keyring, error) {
	if spec == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the secret key file: %w", err)
		}
		spec = string(b)
	}
	return Parse(spec)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must be 32 bytes (AES-256), got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64 (make one with `regiond secrets generate-key`)")
}

// keyID names a key without revealing it: a truncated hash under a fixed label.
func keyID(raw []byte) string {
	h := sha256.Sum256(append([]byte("regiond key id\x00"), raw...))
	return hex.EncodeToString(h[:8])
}

// Enabled reports whether the keyring can encrypt.
func (k *Keyring) Enabled() bool { return k != nil && k.primary != nil }

// PrimaryID is the id of the key new values are encrypted with ("" without one).
func (k *Keyring) PrimaryID() string {
	if !k.Enabled() {
		return ""
	}
	return k.primary.id
}

// Holds reports whether the keyring has the key named keyID, and so can decrypt its values.
func (k *Keyring) Holds(keyID string) bool {
	if k == nil {
		return false
	}
	_, ok := k.byID[keyID]
	return ok
}

// Encrypt seals plaintext with the primary key. aad binds the ciphertext to its owner (the
// region id), so that a value copied to another row does not decrypt.
func (k *Keyring) Encrypt(plaintext, aad []byte) (ciphertext, keyID string, err error) {
	if !k.Enabled() {
		return "", "", ErrNoKey
	}
	a := k.primary.aead
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", err
	}
	sealed := a.Seal(nonce, nonce, plaintext, aad)
	return base64.StdEncoding.EncodeToString(sealed), k.primary.id, nil
}

// Decrypt opens a value made by Encrypt with the key named keyID.
func (k *Keyring) Decrypt(ciphertext, keyID string, aad []byte) ([]byte, error) {
	if !k.Holds(keyID) {
		return nil, ErrUnknownKey
	}
	kk := k.byID[keyID]
	sealed, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(sealed) < kk.aead.NonceSize() {
		return nil, errors.New("the encrypted value is corrupt")
	}
	n := kk.aead.NonceSize()
	plain, err := kk.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("the encrypted value does not authenticate (wrong key or tampered)")
	}
	return plain, nil
}
