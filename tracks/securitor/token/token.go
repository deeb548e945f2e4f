// Package token signs and verifies JSON Web Tokens (RFC 7519) in compact
// JWS form (RFC 7515): header.payload.signature, each part base64url
// without padding. It supports EdDSA (Ed25519), RS256 and HS256, checks
// expiry, not-before and audience, picks the key by the header's kid, and
// pins the algorithm to the key: the verifier, never the token, decides
// which algorithm a key is used with. The securitor node verifies every
// client request with it; interop_test.go proves that tokens cross both
// ways with github.com/golang-jwt/jwt/v5.
package token

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Algorithms this package signs and verifies, by their JWS names.
const (
	EdDSA = "EdDSA"
	RS256 = "RS256"
	HS256 = "HS256"
)

// Verification errors. Verify wraps one of them, so callers can tell a
// stale token from a forged one with errors.Is.
var (
	ErrMalformed   = errors.New("token: malformed")
	ErrAlgorithm   = errors.New("token: algorithm not allowed for this key")
	ErrUnknownKey  = errors.New("token: unknown key id")
	ErrSignature   = errors.New("token: bad signature")
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not valid yet")
	ErrAudience    = errors.New("token: wrong audience")
)

// maxLen bounds what Verify parses: a token is a header, not a payload.
const maxLen = 8 << 10

// Header is the JOSE header.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// Claims are the registered claims this package checks, and the role the
// securitor node authorises with.
type Claims struct {
	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  Audience `json:"aud,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"` // seconds since the epoch; 0: never
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	ID        string   `json:"jti,omitempty"`
	Role      string   `json:"role,omitempty"`
}

// Audience is the aud claim, which RFC 7519 allows as a string or an array.
type Audience []string

// UnmarshalJSON accepts both forms.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud: want a string or an array of strings")
	}
	*a = many
	return nil
}

// MarshalJSON writes one audience as a plain string, as most issuers do.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// claimsWire reads numeric dates that issuers may write as floats.
type claimsWire struct {
	Claims
	ExpiresAt json.Number `json:"exp,omitempty"`
	NotBefore json.Number `json:"nbf,omitempty"`
	IssuedAt  json.Number `json:"iat,omitempty"`
}

func numericDate(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("numeric date %q", n)
	}
	return int64(math.Floor(f)), nil
}

// Key is a verification key and the one algorithm it may be used with.
type Key struct {
	Alg string
	// Public is an ed25519.PublicKey (EdDSA) or *rsa.PublicKey (RS256).
	Public crypto.PublicKey
	// Secret is the shared key of HS256.
	Secret []byte
}

var b64 = base64.RawURLEncoding

// Sign returns the compact serialisation of claims signed with key: an
// ed25519.PrivateKey, an *rsa.PrivateKey or an HS256 secret ([]byte),
// with kid in the header.
func Sign(c Claims, kid string, key any) (string, error) {
	var alg string
	switch key.(type) {
	case ed25519.PrivateKey:
		alg = EdDSA
	case *rsa.PrivateKey:
		alg = RS256
	case []byte:
		alg = HS256
	default:
		return "", fmt.Errorf("token: cannot sign with a %T", key)
	}
	h, err := json.Marshal(Header{Alg: alg, Typ: "JWT", Kid: kid})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	var sig []byte
	switch k := key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:]); err != nil {
			return "", err
		}
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Parsed is a token split and decoded, not yet verified.
type Parsed struct {
	Header    Header
	Claims    Claims
	Signed    string // header.payload, the signing input
	Signature []byte
}

// Parse splits and decodes a token without checking anything but its
// shape. It never panics, whatever the input (FuzzParse).
func Parse(tok string) (Parsed, error) {
	var p Parsed
	if len(tok) > maxLen {
		return p, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxLen)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return p, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformed, len(parts))
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return p, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err := strictJSON(hb, &p.Header); err != nil {
		return p, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return p, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var w claimsWire
	if err := strictJSON(pb, &w); err != nil {
		return p, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	p.Claims = w.Claims
	for _, d := range []struct {
		n   json.Number
		dst *int64
	}{{w.ExpiresAt, &p.Claims.ExpiresAt}, {w.NotBefore, &p.Claims.NotBefore}, {w.IssuedAt, &p.Claims.IssuedAt}} {
		if *d.dst, err = numericDate(d.n); err != nil {
			return p, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if p.Signature, err = b64.DecodeString(parts[2]); err != nil {
		return p, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	p.Signed = parts[0] + "." + parts[1]
	return p, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// Verifier checks tokens against a key set.
type Verifier struct {
	Keys     map[string]Key // by kid
	Audience string         // required in aud; "" skips the check
	Now      func() time.Time
	// Leeway tolerates clock skew between issuer and verifier.
	Leeway time.Duration
	// TrustAlgHeader is the classic mistake, kept as a counter-example:
	// the algorithm comes from the token's header, so "none" passes with
	// no signature and "HS256" is checked with the public key's PEM bytes
	// as the HMAC secret (which anyone can read). Never set it.
	TrustAlgHeader bool
	// PEM holds each kid's public key in PEM, what a TrustAlgHeader
	// verifier mistakes for an HMAC secret.
	PEM map[string][]byte
}

// Verify parses tok, checks its signature with the key its kid names, in
// that key's algorithm, then its time window and audience.
func (v *Verifier) Verify(tok string) (Claims, error) {
	p, err := Parse(tok)
	if err != nil {
		return Claims{}, err
	}
	if err := v.checkSignature(p); err != nil {
		return Claims{}, err
	}
	return p.Claims, v.checkClaims(p.Claims)
}

func (v *Verifier) checkSignature(p Parsed) error {
	if v.TrustAlgHeader {
		return v.trustingCheck(p)
	}
	k, ok := v.Keys[p.Header.Kid]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, p.Header.Kid)
	}
	// Pinning: a key is used only with the algorithm it was registered
	// for. Comparing before anything else shuts out "none" and the
	// HS256-with-a-public-key switch.
	if p.Header.Alg != k.Alg {
		return fmt.Errorf("%w: header says %q, key %q is %s", ErrAlgorithm, p.Header.Alg, p.Header.Kid, k.Alg)
	}
	if !verifySig(k.Alg, k.Public, k.Secret, p) {
		return ErrSignature
	}
	return nil
}

func verifySig(alg string, pub crypto.PublicKey, secret []byte, p Parsed) bool {
	switch alg {
	case EdDSA:
		pk, ok := pub.(ed25519.PublicKey)
		return ok && len(pk) == ed25519.PublicKeySize && ed25519.Verify(pk, []byte(p.Signed), p.Signature)
	case RS256:
		pk, ok := pub.(*rsa.PublicKey)
		d := sha256.Sum256([]byte(p.Signed))
		return ok && rsa.VerifyPKCS1v15(pk, crypto.SHA256, d[:], p.Signature) == nil
	case HS256:
		if len(secret) == 0 {
			return false
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(p.Signed))
		return subtle.ConstantTimeCompare(m.Sum(nil), p.Signature) == 1
	}
	return false
}

// trustingCheck is the counter-example's verification: it believes the
// header.
func (v *Verifier) trustingCheck(p Parsed) error {
	k, ok := v.Keys[p.Header.Kid]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, p.Header.Kid)
	}
	switch p.Header.Alg {
	case "none", "None", "NONE":
		return nil
	case HS256:
		if k.Secret == nil {
			k.Secret = v.PEM[p.Header.Kid]
		}
	}
	if !verifySig(p.Header.Alg, k.Public, k.Secret, p) {
		return ErrSignature
	}
	return nil
}

func (v *Verifier) checkClaims(c Claims) error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if c.ExpiresAt != 0 && !now.Before(time.Unix(c.ExpiresAt, 0).Add(v.Leeway)) {
		return fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	if c.NotBefore != 0 && now.Add(v.Leeway).Before(time.Unix(c.NotBefore, 0)) {
		return fmt.Errorf("%w until %s", ErrNotYetValid, time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	if v.Audience != "" {
		for _, a := range c.Audience {
			if a == v.Audience {
				return nil
			}
		}
		return fmt.Errorf("%w: %q is not in %q", ErrAudience, v.Audience, []string(c.Audience))
	}
	return nil
}
