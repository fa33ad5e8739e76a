// Package pagetoken makes the opaque cursors of paged lists. A token carries the position after
// which the next page starts and a fingerprint of the query it belongs to, and is signed with a
// key every replica shares, so that a token that was altered, or sent with another query, is
// refused instead of silently returning the wrong page.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// ErrInvalid is returned for every token that cannot be used with the query at hand. One error
// for all causes: a client learns nothing from probing.
var ErrInvalid = errors.New("page_token was altered or was made for another query")

// Codec signs and checks tokens.
type Codec struct{ key []byte }

// New makes a codec with a secret key (at least 32 bytes).
func New(key []byte) Codec { return Codec{key: key} }

type payload struct {
	V int    `json:"v"`
	Q string `json:"q"` // fingerprint of the query
	P string `json:"p"` // position: the sort key of the last item of the previous page
}

// Encode makes the token for the page after position, for the query with this fingerprint (the
// etag.Hash of the parts of the query that must stay the same from page to page). Both
// travel as JSON strings, so they must be UTF-8 text (positions are names and ids; fingerprints
// are base64) for Decode to give them back unchanged.
func (c Codec) Encode(fingerprint, position string) string {
	body, _ := json.Marshal(payload{V: 1, Q: fingerprint, P: position})
	b := base64.RawURLEncoding.EncodeToString(body)
	return b + "." + base64.RawURLEncoding.EncodeToString(c.mac(b))
}

// strict decodes only the spelling Encode makes. The lenient decoder ignores the unused low bits
// of a last character, so that up to 16 spellings of one signature would all be accepted: an
// altered token must be refused, whatever was altered.
var strict = base64.RawURLEncoding.Strict()

// decode is strict's DecodeString, refusing also the line breaks every Go base64 decoder skips
// (a signature followed by "\n" decoded as the signature): the decoded length must give back
// exactly the length read.
func decode(s string) ([]byte, error) {
	b, err := strict.DecodeString(s)
	if err == nil && strict.EncodedLen(len(b)) != len(s) {
		err = ErrInvalid
	}
	return b, err
}

// Decode checks a token against the query's fingerprint and returns its position.
func (c Codec) Decode(fingerprint, tok string) (string, error) {
	b, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return "", ErrInvalid
	}
	got, err := decode(sig)
	if err != nil || !hmac.Equal(got, c.mac(b)) {
		return "", ErrInvalid
	}
	body, err := decode(b)
	if err != nil {
		return "", ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || p.V != 1 || p.Q != fingerprint {
		return "", ErrInvalid
	}
	return p.P, nil
}

func (c Codec) mac(s string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(s))
	return m.Sum(nil)[:16]
}
