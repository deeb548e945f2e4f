package workload

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	jwt "github.com/golang-jwt/jwt/v5"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// secure-kv: the securitor track's workload (ours). A key-value store
// whose every request carries a JSON Web Token (RFC 7519) signed by the
// grader with Ed25519 ("EdDSA"), and a request id:
//
//	{"type":"write","key":"k3","value":"sv-…","token":"eyJ…","req":17} -> {"type":"write_ok"}
//	{"type":"read","key":"k3","token":"eyJ…","req":18}   -> {"type":"read_ok","value":"sv-…"}
//	                                                     (error 20 if the key has no value)
//	{"type":"rotate","kek":"kek-2","token":"eyJ…","req":19} -> {"type":"rotate_ok","rewrapped":7}
//	{"type":"audit","token":"eyJ…","req":20}
//	  -> {"type":"audit_ok","entries":[{"seq":0,"req":1,"sub":"client-0","jti":"t1",
//	        "op":"write","key":"k3","decision":"allow","prev":"00…","hash":"ab…"}, …],"root":"9f…"}
//
// Each node gets, in its environment, SECUREKV_AUDIENCE (the audience
// tokens must name), SECUREKV_JWKS (the issuer's public keys by key id:
// {"g1":{"alg":"EdDSA","pem":"-----BEGIN PUBLIC KEY-----…"}, …}) and
// SECUREKV_KEKS (the key-encryption keys by id, base64: a stand-in for a
// key-management service). Tokens carry sub, aud, exp, nbf, iat, a
// unique jti and a role: reader (read), writer (read, write) or admin
// (read, rotate, audit). The grader signs with g1, and with g2 after
// every other rotation.
//
// An attacker mixes bad requests among the honest ones (--attack-ratio):
// forged (signed by a key nobody trusts), expired, not-yet-valid,
// wrong-audience, alg-none, alg-switch (HS256 with the public key's PEM
// as the HMAC secret), unknown-kid, replayed (the token of an answered
// request again), malformed, missing (no token) — all to be refused
// with error 1001 — and under-privileged (a reader writing, a writer
// rotating), to be refused with 1003. Every --rotate-every operations an
// admin rotates the key-encryption key. The final phase reads every key
// and the audit log. After the run the grader scans every file of every
// node's data directory for the written values (checker.SecureKV).
const secureKVAudience = "secure-kv"

// secureKVAttacks lists the attack kinds, in the order of the lesson.
var secureKVAttacks = []string{"forged", "expired", "not-yet-valid", "wrong-audience", "alg-none", "alg-switch",
	"unknown-kid", "replayed", "malformed", "missing", checker.SecureKVUnderPrivileged}

func init() {
	Register(func() Spec {
		return Spec{Name: "secure-kv", Description: "a key-value store behind JWT authentication, RBAC, envelope encryption and an audit log, under attack (ours)",
			Reusable: true,
			Final:    true,
			// A killed node is down for seconds; clients give up sooner so
			// that the run keeps probing it.
			Timeout: func(lat time.Duration) time.Duration { return max(20*lat, time.Second) },
			Flags: []Flag{
				{Name: "keys", Default: "8", Usage: "number of keys"},
				{Name: "attack-ratio", Default: "0.3", Usage: "fraction of requests that are attacks"},
				{Name: "rotate-every", Default: "50", Usage: "operations between key-encryption-key rotations (0: none)"},
			},
			New: newSecureKV,
		}
	})
}

func newSecureKV(p Params) (Instance, error) {
	keys, err := p.FlagNumber("keys", 1, 1000)
	if err != nil {
		return nil, err
	}
	ratio, err := p.FlagNumber("attack-ratio", 0, 1)
	if err != nil {
		return nil, err
	}
	rot, err := p.FlagNumber("rotate-every", 0, 1e6)
	if err != nil {
		return nil, err
	}
	w := &secureKV{p: p, keys: int(keys), ratio: ratio, rotateEvery: int(rot),
		signers: map[string]ed25519.PrivateKey{}, pems: map[string][]byte{}, keks: map[string]string{}}
	// Keys come from the run's seed, so that a seed replays the same run.
	seed := func() []byte {
		b := make([]byte, ed25519.SeedSize)
		for i := range b {
			b[i] = byte(p.Rand.Uint32())
		}
		return b
	}
	for _, kid := range []string{"g1", "g2"} {
		k := ed25519.NewKeyFromSeed(seed())
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, err
		}
		w.signers[kid] = k
		w.pems[kid] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	w.rogue = ed25519.NewKeyFromSeed(seed())
	for i := 1; i <= 4; i++ {
		w.kekIDs = append(w.kekIDs, fmt.Sprintf("kek-%d", i))
		w.keks[w.kekIDs[i-1]] = base64.StdEncoding.EncodeToString(seed())
	}
	return w, nil
}

type secureKV struct {
	p           Params
	keys        int
	ratio       float64
	rotateEvery int
	signers     map[string]ed25519.PrivateKey
	pems        map[string][]byte
	rogue       ed25519.PrivateKey
	keks        map[string]string
	kekIDs      []string

	// generator state (Next and Final run on one goroutine)
	ops, rotations int
	req            int64

	mu       sync.Mutex
	answered []string // tokens of answered honest writes, for replays
	read     func(node string) (map[string][]byte, error)
}

func (w *secureKV) Setup(context.Context, string, Caller) error { return nil }

// NodeEnv gives every node the issuer's public keys, the audience and the
// key-encryption keys (NodeEnver).
func (w *secureKV) NodeEnv(string) map[string]string {
	type jwk struct {
		Alg string `json:"alg"`
		PEM string `json:"pem"`
	}
	set := map[string]jwk{}
	for kid, p := range w.pems {
		set[kid] = jwk{Alg: "EdDSA", PEM: string(p)}
	}
	jwks, _ := json.Marshal(set)
	keks, _ := json.Marshal(w.keks)
	return map[string]string{"SECUREKV_AUDIENCE": secureKVAudience, "SECUREKV_JWKS": string(jwks), "SECUREKV_KEKS": string(keks)}
}

// SetDataReader keeps the runner's reader of data directories
// (DataReader).
func (w *secureKV) SetDataReader(read func(string) (map[string][]byte, error)) { w.read = read }

func (w *secureKV) value() string {
	return fmt.Sprintf("%s%016x", checker.SecureKVValuePrefix, w.p.Rand.Uint64())
}

// token signs claims for the subject with the current issuer key.
func (w *secureKV) token(sub, role string, tweak func(jwt.MapClaims)) (string, string) {
	w.req++
	now := time.Now()
	jti := fmt.Sprintf("t%d", w.req)
	c := jwt.MapClaims{"sub": sub, "aud": secureKVAudience, "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": jti, "role": role}
	if tweak != nil {
		tweak(c)
	}
	kid := "g1"
	if (w.rotations/2)%2 == 1 {
		kid = "g2"
	}
	return sign(jwt.SigningMethodEdDSA, kid, w.signers[kid], c), jti
}

func sign(m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t := jwt.NewWithClaims(m, c)
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		panic("secure-kv: signing: " + err.Error()) // only a programming error gets here
	}
	return s
}

func (w *secureKV) key() string { return fmt.Sprintf("k%d", w.p.Rand.IntN(w.keys)) }

func (w *secureKV) Next(thread, _ int) Invocation {
	w.ops++
	sub := fmt.Sprintf("client-%d", thread)
	if w.rotateEvery > 0 && w.ops%w.rotateEvery == 0 {
		w.rotations++
		tok, _ := w.token("admin", "admin", nil)
		kek := w.kekIDs[w.rotations%len(w.kekIDs)]
		return Invocation{F: "rotate", Value: checker.SecureKVOp{Req: w.req, Kind: "honest", Op: "rotate", KEK: kek, Token: tok}}
	}
	r := w.p.Rand
	if r.Float64() < w.ratio {
		return w.attack(sub, secureKVAttacks[r.IntN(len(secureKVAttacks))])
	}
	if r.IntN(2) == 0 {
		tok, _ := w.token(sub, "writer", nil)
		return Invocation{F: "write", Value: checker.SecureKVOp{Req: w.req, Kind: "honest", Op: "write", Key: w.key(), Value: w.value(), Token: tok}}
	}
	role := []string{"reader", "writer", "admin"}[r.IntN(3)]
	tok, _ := w.token(sub, role, nil)
	return Invocation{F: "read", Value: checker.SecureKVOp{Req: w.req, Kind: "honest", Op: "read", Key: w.key(), Token: tok}}
}

// attack makes a bad request of the given kind: a write, mostly, so that
// a served one would also show up in the reads.
func (w *secureKV) attack(sub, kind string) Invocation {
	r := w.p.Rand
	now := time.Now()
	op := checker.SecureKVOp{Kind: kind, Op: "write", Key: w.key(), Value: w.value()}
	if r.IntN(4) == 0 && kind != checker.SecureKVUnderPrivileged {
		op.Op, op.Value = "read", ""
	}
	set := func(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
	switch kind {
	case "forged":
		tok, _ := w.token(sub, "writer", nil)
		c, _ := w.claimsOf(tok)
		op.Token = sign(jwt.SigningMethodEdDSA, "g1", w.rogue, c)
	case "expired":
		op.Token, _ = w.token(sub, "writer", set("exp", now.Add(-10*time.Minute).Unix()))
	case "not-yet-valid":
		op.Token, _ = w.token(sub, "writer", set("nbf", now.Add(10*time.Minute).Unix()))
	case "wrong-audience":
		op.Token, _ = w.token(sub, "writer", set("aud", "billing"))
	case "alg-none", "alg-switch", "unknown-kid":
		tok, _ := w.token(sub, "writer", nil)
		c, _ := w.claimsOf(tok)
		switch kind {
		case "alg-none":
			op.Token = sign(jwt.SigningMethodNone, "g1", jwt.UnsafeAllowNoneSignatureType, c)
		case "alg-switch":
			op.Token = sign(jwt.SigningMethodHS256, "g1", w.pems["g1"], c)
		default:
			op.Token = sign(jwt.SigningMethodEdDSA, "g9", w.rogue, c)
		}
	case "replayed":
		w.mu.Lock()
		if n := len(w.answered); n > 0 {
			op.Token = w.answered[r.IntN(n)]
		}
		w.mu.Unlock()
		if op.Token == "" {
			op.Kind, op.Token = "malformed", "eyJhbGciOiJFZERTQSJ9.not-json"
		}
		w.req++
	case "malformed":
		w.req++
		op.Token = []string{"", "not-a-token", "a.b.c", "eyJhbGciOiJFZERTQSJ9.e30"}[r.IntN(4)]
	case "missing":
		w.req++
	case checker.SecureKVUnderPrivileged:
		if r.IntN(2) == 0 {
			op.Token, _ = w.token(sub, "reader", nil)
		} else {
			op.Token, _ = w.token(sub, "writer", nil)
			op.Op, op.Key, op.Value, op.KEK = "rotate", "", "", w.kekIDs[0]
		}
	}
	op.Req = w.req
	return Invocation{F: op.Op, Value: op}
}

// claimsOf reads back the claims of a token the grader signed.
func (w *secureKV) claimsOf(tok string) (jwt.MapClaims, error) {
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(tok, c)
	return c, err
}

func (w *secureKV) Final(thread int) []Invocation {
	if thread != 0 {
		return nil
	}
	var out []Invocation
	for k := range w.keys {
		tok, _ := w.token("auditor", "reader", nil)
		out = append(out, Invocation{F: "read", Value: checker.SecureKVOp{Req: w.req, Kind: "honest", Op: "read", Key: fmt.Sprintf("k%d", k), Token: tok}})
	}
	tok, _ := w.token("auditor", "admin", nil)
	return append(out, Invocation{F: "audit", Value: checker.SecureKVOp{Req: w.req, Kind: "honest", Op: "audit", Token: tok}})
}

func (w *secureKV) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	op := inv.Value.(checker.SecureKVOp)
	body := map[string]any{"type": op.Op, "req": op.Req}
	if op.Kind != "missing" {
		body["token"] = op.Token
	}
	switch op.Op {
	case "read":
		body["key"] = op.Key
	case "write":
		body["key"], body["value"] = op.Key, op.Value
	case "rotate":
		body["kek"] = op.KEK
	}
	raw, err := c.RPC(ctx, body)
	var fields []Field
	switch op.Op {
	case "read":
		fields = []Field{{Name: "value"}}
	case "rotate":
		fields = []Field{{Name: "rewrapped"}}
	case "audit":
		fields = []Field{{Name: "entries"}, {Name: "root"}}
	}
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, op.Op+"_ok", fields...)
	}
	var rpc *RPCError
	switch {
	case errors.As(err, &rpc) && op.Op == "read" && rpc.Code == 20:
		// The key has no value yet: the read was authorised and served
		// (for an attack, that is the violation).
		return ok(op)
	case errors.As(err, &rpc):
		name, _ := history.ErrorName(rpc.Code)
		return Completion{Type: history.Fail, Value: op, Error: &history.Error{Code: rpc.Code, Name: name, Text: rpc.Text}}
	case err != nil:
		return Outcome(err, false, false)
	}
	switch op.Op {
	case "read":
		if err := json.Unmarshal(m["value"], &op.Value); err != nil {
			return Outcome(&MalformedError{Reason: "read_ok value must be a string, got " + string(m["value"])}, false, false)
		}
		op.Found = true
	case "audit":
		var a checker.SecureKVAudit
		if json.Unmarshal(m["entries"], &a.Entries) != nil || json.Unmarshal(m["root"], &a.Root) != nil {
			return Outcome(&MalformedError{Reason: "audit_ok needs entries (an array of entries) and root (a hex string)"}, false, false)
		}
		op.Audit = &a
	case "write":
		if op.Kind == "honest" {
			w.mu.Lock()
			w.answered = append(w.answered, op.Token)
			w.mu.Unlock()
		}
	}
	return ok(op)
}

func (w *secureKV) Check(h history.History) checker.Result {
	data := checker.SecureKVData{Files: map[string]map[string][]byte{}}
	if w.read != nil {
		for _, n := range w.p.NodeIDs {
			f, err := w.read(n)
			if err != nil {
				data.ScanErr = fmt.Errorf("%s: %w", n, err)
				break
			}
			data.Files[n] = f
		}
	}
	return checker.SecureKV(h, data)
}
