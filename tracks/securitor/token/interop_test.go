package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v5"
)

// The interop tests put our tokens through github.com/golang-jwt/jwt/v5
// and theirs through ours, and check that both libraries refuse the same
// bad tokens.

var now = time.Unix(1_800_000_000, 0)

type keys struct {
	ed    ed25519.PrivateKey
	rsa   *rsa.PrivateKey
	hmac  []byte
	pem   []byte // the Ed25519 public key, what an attacker can read
	ours  *Verifier
	other *ed25519.PrivateKey // a key nobody trusts
}

func newKeys(t testing.TB) keys {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemb := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	k := keys{ed: priv, rsa: r, hmac: []byte("a shared secret of 32 bytes......"), pem: pemb, other: &other}
	k.ours = &Verifier{Audience: "kv", Now: func() time.Time { return now },
		Keys: map[string]Key{"ed1": {Alg: EdDSA, Public: pub}, "rs1": {Alg: RS256, Public: &r.PublicKey}, "hs1": {Alg: HS256, Secret: k.hmac}},
		PEM:  map[string][]byte{"ed1": pemb}}
	return k
}

// theirVerify verifies with golang-jwt, configured as strictly as ours.
func (k keys) theirVerify(tok string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		switch t.Header["kid"] {
		case "ed1":
			return k.ed.Public(), nil
		case "rs1":
			return &k.rsa.PublicKey, nil
		case "hs1":
			return k.hmac, nil
		}
		return nil, fmt.Errorf("unknown kid %v", t.Header["kid"])
	}, jwt.WithValidMethods([]string{"EdDSA", "RS256", "HS256"}), jwt.WithAudience("kv"),
		jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithExpirationRequired())
	if err == nil {
		// golang-jwt lets a key of one kid verify any allowed algorithm;
		// pin as ours does.
		want := map[string]string{"ed1": "EdDSA", "rs1": "RS256", "hs1": "HS256"}
		p, _ := Parse(tok)
		if want[p.Header.Kid] != p.Header.Alg {
			return nil, errors.New("algorithm does not match the key")
		}
	}
	return claims, err
}

func theirSign(method jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func good() Claims {
	return Claims{Subject: "alice", Audience: Audience{"kv"}, ExpiresAt: now.Unix() + 60, NotBefore: now.Unix() - 60, IssuedAt: now.Unix(), ID: "j1", Role: "writer"}
}

func TestOursSignsTheirsVerifies(t *testing.T) {
	k := newKeys(t)
	for kid, key := range map[string]any{"ed1": k.ed, "rs1": k.rsa, "hs1": k.hmac} {
		tok, err := Sign(good(), kid, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := k.theirVerify(tok)
		if err != nil {
			t.Fatalf("%s: golang-jwt refuses our token: %v", kid, err)
		}
		if c["sub"] != "alice" || c["role"] != "writer" || c["jti"] != "j1" {
			t.Fatalf("%s: golang-jwt reads claims %v", kid, c)
		}
	}
}

func TestTheirsSignsOursVerifies(t *testing.T) {
	k := newKeys(t)
	mc := jwt.MapClaims{"sub": "bob", "aud": []string{"other", "kv"}, "exp": float64(now.Unix()) + 30.5,
		"nbf": now.Unix() - 1, "jti": "j2", "role": "reader"}
	for _, tc := range []struct {
		m   jwt.SigningMethod
		kid string
		key any
	}{{jwt.SigningMethodEdDSA, "ed1", k.ed}, {jwt.SigningMethodRS256, "rs1", k.rsa}, {jwt.SigningMethodHS256, "hs1", k.hmac}} {
		c, err := k.ours.Verify(theirSign(tc.m, tc.kid, tc.key, mc))
		if err != nil {
			t.Fatalf("%s: we refuse golang-jwt's token: %v", tc.kid, err)
		}
		if c.Subject != "bob" || c.Role != "reader" || c.ExpiresAt != now.Unix()+30 || len(c.Audience) != 2 {
			t.Fatalf("%s: we read claims %+v", tc.kid, c)
		}
	}
}

// TestBothRefuseTheSameBadTokens makes each bad token with golang-jwt and
// checks that both verifiers refuse it, ours with the expected error.
func TestBothRefuseTheSameBadTokens(t *testing.T) {
	k := newKeys(t)
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "eve", "aud": "kv", "exp": now.Unix() + 60, "nbf": now.Unix() - 60, "role": "writer"}
	}
	with := func(key string, v any) jwt.MapClaims { c := base(); c[key] = v; return c }
	noneTok := theirSign(jwt.SigningMethodNone, "ed1", jwt.UnsafeAllowNoneSignatureType, base())
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"expired", theirSign(jwt.SigningMethodEdDSA, "ed1", k.ed, with("exp", now.Unix()-1)), ErrExpired},
		{"not before", theirSign(jwt.SigningMethodEdDSA, "ed1", k.ed, with("nbf", now.Unix()+600)), ErrNotYetValid},
		{"wrong audience", theirSign(jwt.SigningMethodEdDSA, "ed1", k.ed, with("aud", "billing")), ErrAudience},
		{"unknown kid", theirSign(jwt.SigningMethodEdDSA, "ed9", k.ed, base()), ErrUnknownKey},
		{"forged (untrusted key)", theirSign(jwt.SigningMethodEdDSA, "ed1", *k.other, base()), ErrSignature},
		{"alg none", noneTok, ErrAlgorithm},
		{"HS256 with the public key", theirSign(jwt.SigningMethodHS256, "ed1", k.pem, base()), ErrAlgorithm},
		{"RS256 key used as HS256", theirSign(jwt.SigningMethodHS256, "rs1", k.pem, base()), ErrAlgorithm},
	}
	for _, tc := range cases {
		if _, err := k.ours.Verify(tc.tok); !errors.Is(err, tc.want) {
			t.Errorf("%s: ours: got %v, want %v", tc.name, err, tc.want)
		}
		if _, err := k.theirVerify(tc.tok); err == nil {
			t.Errorf("%s: golang-jwt accepts it", tc.name)
		}
	}
}

// TestTrustingVerifierIsFooled shows what the counter-example gets wrong:
// believing the header, it accepts "none" and the HS256 switch.
func TestTrustingVerifierIsFooled(t *testing.T) {
	k := newKeys(t)
	bad := *k.ours
	bad.TrustAlgHeader = true
	c := jwt.MapClaims{"sub": "eve", "aud": "kv", "exp": now.Unix() + 60, "role": "admin"}
	for name, tok := range map[string]string{
		"none":   theirSign(jwt.SigningMethodNone, "ed1", jwt.UnsafeAllowNoneSignatureType, c),
		"switch": theirSign(jwt.SigningMethodHS256, "ed1", k.pem, c),
	} {
		if _, err := bad.Verify(tok); err != nil {
			t.Errorf("%s: the trusting verifier refused it (%v); the counter-example shows nothing", name, err)
		}
		if _, err := k.ours.Verify(tok); err == nil {
			t.Errorf("%s: the pinned verifier accepted a forgery", name)
		}
	}
}
