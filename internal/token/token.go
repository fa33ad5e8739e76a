// Package token models API tokens: their scopes, their secret values (only ever stored as a
// hash), and the caller they authenticate.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scope is a permission a token grants.
type Scope string

const (
	RegionsRead    Scope = "regions:read"
	RegionsWrite   Scope = "regions:write"
	RegionsSecrets Scope = "regions:secrets"
	TokensAdmin    Scope = "tokens:admin"
)

// AllScopes is every scope, in the order they are documented.
var AllScopes = []Scope{RegionsRead, RegionsWrite, RegionsSecrets, TokensAdmin}

// SecretPrefix starts every token value, so that secret scanners and people recognise one.
const SecretPrefix = "rgd_"

// Token is a token's stored form. The secret value itself is never stored: only its Hash.
type Token struct {
	ID           string
	EnterpriseID string
	Prefix       string
	Hash         string
	Scopes       []Scope
	Note         string
	CreatedAt    time.Time
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	RevokedAt    *time.Time
	CreatedBy    string
}

// Has reports whether the token grants s.
func (t Token) Has(s Scope) bool { return slices.Contains(t.Scopes, s) }

// Usable reports why the token cannot be used at now, or "" when it can.
func (t Token) Usable(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "the token was revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "the token has expired"
	case CheckEnterpriseID(t.EnterpriseID) != nil:
		// Made before enterprise ids had one format: serving it could confuse its enterprise
		// with a lookalike, and could not be described by the API's schema.
		return "the token's enterprise id is not in the format enterprise ids must have (" + EnterpriseIDFormat + "); ask an operator for a new token"
	}
	return ""
}

// ParseScopes reads a comma-separated scope list, rejecting unknown and repeated scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if sc == "" {
			continue
		}
		if !slices.Contains(AllScopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", sc, JoinScopes(AllScopes))
		}
		if slices.Contains(out, sc) {
			return nil, fmt.Errorf("scope %q is listed twice", sc)
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one scope is required (known: %s)", JoinScopes(AllScopes))
	}
	return out, nil
}

// JoinScopes writes scopes as a comma-separated list, their stored form.
func JoinScopes(scopes []Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

// Mint completes t as a new token — a new id, its creation time, and the hash and prefix of its
// value — and returns it with the value: secret, or a new one when secret is "". The CLI, the
// bootstrap and the API all make their tokens here; the value itself is never stored.
func Mint(t Token, secret string) (Token, string) {
	if secret == "" {
		secret = NewSecret()
	}
	t.ID = NewID()
	t.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	t.Hash, t.Prefix = Hash(secret), PrefixOf(secret)
	return t, secret
}

// NewSecret returns a new token value: the prefix and 256 random bits.
func NewSecret() string {
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// Hash is the stored form of a token value. A fast hash is right here: token values are 256
// random bits, so there is nothing to brute-force, and every request hashes one.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// PrefixOf is the part of a token value that may be shown to identify it.
func PrefixOf(secret string) string {
	if len(secret) < len(SecretPrefix)+4 {
		return secret[:min(len(secret), len(SecretPrefix))]
	}
	return secret[:len(SecretPrefix)+4]
}

// NewID returns a new token id (not secret).
func NewID() string {
	return "tok_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(15)))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// EnterpriseIDFormat describes the one format of enterprise ids, for error messages and docs.
const EnterpriseIDFormat = "1 to 36 characters: ASCII letters, digits, '.', '_' and '-', starting with a letter or digit (case-sensitive)"

// CheckEnterpriseID refuses an enterprise id outside EnterpriseIDFormat. One format, compared
// byte for byte, leaves no two spellings of one enterprise to confuse (letter case, accents,
// spaces), whatever the database's collation.
func CheckEnterpriseID(id string) error {
	if len(id) < 1 || len(id) > 36 {
		return fmt.Errorf("enterprise id %q must be %s", id, EnterpriseIDFormat)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("enterprise id %q must be %s", id, EnterpriseIDFormat)
		}
	}
	return nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID      string
	EnterpriseID string
	Scopes       []Scope
	ExpiresAt    *time.Time // when the caller's token expires; nil for never
}

// Has reports whether the caller holds s.
func (p Principal) Has(s Scope) bool { return slices.Contains(p.Scopes, s) }
