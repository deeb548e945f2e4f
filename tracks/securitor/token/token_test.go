package token

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newKeys(t)
	tok, err := Sign(good(), "ed1", k.ed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := k.ours.Verify(tok)
	if err != nil || c.Subject != "alice" || c.ID != "j1" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	// One flipped character of the payload breaks the signature.
	parts := strings.Split(tok, ".")
	c2 := good()
	c2.Role = "admin"
	forged, _ := Sign(c2, "ed1", k.ed)
	parts[1] = strings.Split(forged, ".")[1]
	if _, err := k.ours.Verify(strings.Join(parts, ".")); !errors.Is(err, ErrSignature) {
		t.Fatalf("payload swapped: %v, want ErrSignature", err)
	}
}

func TestLeewayAndBoundaries(t *testing.T) {
	k := newKeys(t)
	c := good()
	c.ExpiresAt = now.Unix() // expires exactly now: refused (exp is exclusive)
	tok, _ := Sign(c, "ed1", k.ed)
	if _, err := k.ours.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("exp == now: %v", err)
	}
	v := *k.ours
	v.Leeway = 5e9
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("with 5 s leeway: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	k := newKeys(t)
	for _, s := range []string{"", "a.b", "a.b.c.d", "!!.e30.", "e30.!!.", "e30.e30.!!", "bnVsbA.e30.", strings.Repeat("a", maxLen+1)} {
		if _, err := k.ours.Verify(s); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := Sign(good(), "x", ed25519.PublicKey{}); err == nil {
		t.Error("signing with a public key succeeded")
	}
}

// FuzzParse: whatever the bytes, Parse and Verify return without
// panicking, and nothing but a correctly signed token verifies.
func FuzzParse(f *testing.F) {
	k := newKeys(f)
	tok, _ := Sign(good(), "ed1", k.ed)
	f.Add(tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("e30.e30.e30")
	f.Add(`eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSJ9.eyJleHAiOjFlMzA4fQ.AA`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		c, verr := k.ours.Verify(s)
		if err != nil && verr == nil {
			t.Fatalf("Verify accepted what Parse refused: %v", err)
		}
		if verr == nil && (p.Header.Alg != EdDSA && p.Header.Alg != RS256 && p.Header.Alg != HS256) {
			t.Fatalf("accepted alg %q", p.Header.Alg)
		}
		_ = c
	})
}
