package pagetoken_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/regiond/regiond/internal/etag"
	"github.com/regiond/regiond/internal/pagetoken"
)

var (
	codec = pagetoken.New([]byte("fuzz-key-0123456789abcdef-0123456789"))
	// other is a replica of another deployment: same code, another key.
	other = pagetoken.New([]byte("another-key-0123456789abcdef-012345"))
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// nonCanonical spells tok's signature another way: its last base64 character carries 2 bits of
// the 16-byte MAC and 4 unused bits, which Encode leaves at zero; setting one gives the same bytes
// to a lenient decoder.
func nonCanonical(tok string) string {
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last|1])
}

// FuzzPageToken checks the promises of page tokens on arbitrary input:
//   - Decode never panics, and refuses with ErrInvalid only;
//   - a token Decode accepts is exactly the one Encode makes for its position: no other spelling
//     of it (another base64 form of the same bytes, a changed byte) is accepted;
//   - Decode(fp, Encode(fp, pos)) == pos for text (the payload is JSON: UTF-8 only);
//   - a token is refused under another fingerprint, and under another key;
//   - any single-byte change of a valid token is refused.
func FuzzPageToken(f *testing.F) {
	fp := etag.Hash("regions", "e1", "public", "", "", "")
	fp2 := etag.Hash("regions", "e1", "secrets", "", "", "")
	valid := codec.Encode(fp, "rainbond-hz")
	for _, s := range []struct {
		fp, other, pos, tok string
	}{
		{fp, fp2, "rainbond-hz", valid},
		{fp, fp2, "", codec.Encode(fp, "")},
		{fp2, fp, "tok_01jd9m3k7v2q8r5t6w4x1y0z9a", codec.Encode(fp2, "tok_01jd9m3k7v2q8r5t6w4x1y0z9a")},
		{fp, "", "12345", valid[:len(valid)-1]},
		{fp, fp2, `"}{\u0000<>&` + "\u2028", valid + "="},
		{"", "x", "a", "."},
		{"x", "", "a", ""},
		{fp, fp2, "a", "..."},
		{fp, fp2, "a", nonCanonical(valid)},
		{fp, fp2, "\xff\xfe", "eyJ2IjoxfQ.AAAAAAAAAAAAAAAAAAAAAA"},
	} {
		f.Add(s.fp, s.other, s.pos, s.tok, uint16(0), byte('A'))
	}
	f.Fuzz(func(t *testing.T, fp, otherFP, pos, tok string, at uint16, b byte) {
		// Arbitrary tokens.
		got, err := codec.Decode(fp, tok)
		if err != nil {
			if !errors.Is(err, pagetoken.ErrInvalid) || err != pagetoken.ErrInvalid {
				t.Fatalf("Decode(%q): error %v, want ErrInvalid", tok, err)
			}
		} else {
			if again := codec.Encode(fp, got); again != tok {
				t.Fatalf("Decode accepted %q (position %q), but the token for that position is %q", tok, got, again)
			}
			if otherFP != fp {
				if _, err := codec.Decode(otherFP, tok); err == nil {
					t.Fatalf("token %q accepted under fingerprints %q and %q", tok, fp, otherFP)
				}
			}
		}

		// Tokens made by Encode.
		enc := codec.Encode(fp, pos)
		got, err = codec.Decode(fp, enc)
		if utf8.ValidString(fp) && utf8.ValidString(pos) && (err != nil || got != pos) {
			t.Fatalf("Decode(Encode(%q, %q)) = %q, %v", fp, pos, got, err)
		}
		if err != nil {
			return // not text: JSON cannot carry it; nothing more to check
		}
		if otherFP != fp {
			if _, err := codec.Decode(otherFP, enc); err == nil {
				t.Fatalf("a token for fingerprint %q accepted under %q", fp, otherFP)
			}
		}
		if _, err := other.Decode(fp, enc); err == nil {
			t.Fatal("a token accepted under another key")
		}
		i := int(at) % len(enc)
		if enc[i] != b {
			mutated := enc[:i] + string([]byte{b}) + enc[i+1:]
			if got, err := codec.Decode(fp, mutated); err == nil {
				t.Fatalf("byte %d of %q changed to %q: still accepted (position %q)", i, enc, b, got)
			}
		}
	})
}
