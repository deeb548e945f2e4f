// Package securitor is the securitor track's node: a key-value store that
// trusts no request. Every request carries a JSON Web Token, verified with
// package token against the issuer's public keys (algorithm pinned to the
// key, expiry, not-before, audience) and checked against replays by its
// jti; the token's role is authorised against the operation (RBAC). Values
// are stored sealed with package envelope (AES-GCM data keys under a
// key-encryption key the grader hands out, rotated on request by
// re-wrapping), and every decision is appended to a tamper-evident audit
// log (package audit) before the answer leaves. Package pki, mutual TLS
// with our own CA, is the transport a deployment puts between such nodes;
// its tests run it on real sockets.
//
// Two counter-examples are flags: --verifier trust-alg believes the
// token's alg header (forgeries accepted), --storage plaintext stores
// values unencrypted (the grader finds them on disk).
package securitor

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/tracks/securitor/audit"
	"github.com/distsys-curriculum/distsys/tracks/securitor/envelope"
	"github.com/distsys-curriculum/distsys/tracks/securitor/token"
)

// Error codes of refusals (above Maelstrom's range).
const (
	CodeUnauthenticated = 1001 // no valid token: forged, stale, replayed, malformed
	CodeForbidden       = 1003 // a valid token whose role lacks the permission
)

// Environment variables the grader sets (see the lesson).
const (
	EnvAudience = "SECUREKV_AUDIENCE"
	EnvJWKS     = "SECUREKV_JWKS"
	EnvKEKs     = "SECUREKV_KEKS"
)

// Permissions by role.
var roles = map[string][]string{
	"reader": {"read"},
	"writer": {"read", "write"},
	"admin":  {"read", "rotate", "audit"},
}

// Config is the node's command line.
type Config struct {
	TrustAlg  bool          // counter-example: believe the token's alg header
	Plaintext bool          // counter-example: store values unencrypted
	Leeway    time.Duration // clock skew tolerated on exp and nbf
}

const usage = "usage: securitor [--verifier pinned|trust-alg] [--storage sealed|plaintext] [--leeway 30s]"

// ParseArgs reads the node's command line.
func ParseArgs(args []string) (Config, error) {
	fs := nodeflags.New("securitor")
	c := Config{}
	v := fs.String("verifier", "pinned", "pinned (the key decides the algorithm) or trust-alg (counter-example)")
	st := fs.String("storage", "sealed", "sealed (envelope encryption) or plaintext (counter-example)")
	fs.DurationVar(&c.Leeway, "leeway", 30*time.Second, "clock skew tolerated on exp and nbf")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return c, err
	}
	switch *v {
	case "pinned":
	case "trust-alg":
		c.TrustAlg = true
	default:
		return c, fmt.Errorf("securitor: --verifier %q (%s)", *v, usage)
	}
	switch *st {
	case "sealed":
	case "plaintext":
		c.Plaintext = true
	default:
		return c, fmt.Errorf("securitor: --storage %q (%s)", *st, usage)
	}
	if c.Leeway < 0 {
		return c, fmt.Errorf("securitor: --leeway must not be negative")
	}
	return c, nil
}

// Configure sets up a node from its command line (node.Main).
func Configure(n *node.Node) error {
	c, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, c)
	return nil
}

// Server is one node's state. One mutex serialises requests: a decision,
// its effect and its audit entry happen together.
type Server struct {
	n   *node.Node
	cfg Config

	mu      sync.Mutex
	ver     *token.Verifier
	kr      *envelope.Keyring
	sealed  map[string]envelope.Sealed
	plain   map[string]string // --storage plaintext only
	log     *audit.Log
	used    map[string]bool // jtis of allowed requests
	fs      storage.FS
	dir     string // "" keeps everything in memory
	logFile storage.File
}

// request is every message's body; fields depend on the type.
type request struct {
	Type  string  `json:"type"`
	Req   *int64  `json:"req"`
	Token *string `json:"token"`
	Key   string  `json:"key"`
	Value *string `json:"value"`
	KEK   string  `json:"kek"`
}

// Setup serves the secure-kv workload's messages on n.
func Setup(n *node.Node, c Config) *Server {
	s := &Server{n: n, cfg: c}
	n.OnInit(s.start)
	for _, typ := range []string{"read", "write", "rotate", "audit"} {
		node.HandleTyped(n, typ, func(_ node.Message, r request) (any, error) { return s.handle(r) })
	}
	return s
}

// state is what the data file holds: sealed values (or, in the
// counter-example, plain ones) and the active KEK's id.
type state struct {
	Active string                     `json:"active"`
	Sealed map[string]envelope.Sealed `json:"sealed,omitempty"`
	Plain  map[string]string          `json:"plain,omitempty"`
}

const (
	stateFile = "kv.json"
	auditFile = "audit.log"
)

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ver, err := verifierFromEnv(s.n.Getenv(EnvJWKS), s.n.Getenv(EnvAudience))
	if err != nil {
		return err
	}
	ver.Now, ver.Leeway, ver.TrustAlgHeader = s.n.Clock().Now, s.cfg.Leeway, s.cfg.TrustAlg
	s.ver = ver
	keks := map[string][]byte{}
	if err := json.Unmarshal([]byte(s.n.Getenv(EnvKEKs)), &keks); err != nil || len(keks) == 0 {
		return fmt.Errorf("securitor: %s must map KEK ids to base64 keys: %v", EnvKEKs, err)
	}
	st := state{Sealed: map[string]envelope.Sealed{}, Plain: map[string]string{}}
	s.fs, s.dir = s.n.Storage(), s.n.DataDir()
	if s.dir != "" {
		b, err := storage.ReadFile(s.fs, filepath.Join(s.dir, stateFile))
		if err == nil {
			if err := json.Unmarshal(b, &st); err != nil {
				return fmt.Errorf("securitor: %s: %w", stateFile, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if st.Active == "" {
		st.Active = firstKey(keks)
	}
	if s.kr, err = envelope.NewKeyring(keks, st.Active, nil); err != nil {
		return err
	}
	s.sealed, s.plain = st.Sealed, st.Plain
	if s.sealed == nil {
		s.sealed = map[string]envelope.Sealed{}
	}
	if s.plain == nil {
		s.plain = map[string]string{}
	}
	return s.openLog()
}

func firstKey(m map[string][]byte) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

// verifierFromEnv builds the verifier from the grader's key set.
func verifierFromEnv(jwks, aud string) (*token.Verifier, error) {
	var set map[string]struct {
		Alg string `json:"alg"`
		PEM string `json:"pem"`
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set) == 0 {
		return nil, fmt.Errorf("securitor: %s must map key ids to {alg, pem}: %v", EnvJWKS, err)
	}
	v := &token.Verifier{Keys: map[string]token.Key{}, PEM: map[string][]byte{}, Audience: aud}
	for kid, k := range set {
		b, _ := pem.Decode([]byte(k.PEM))
		if b == nil {
			return nil, fmt.Errorf("securitor: key %q: no PEM block", kid)
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("securitor: key %q: %w", kid, err)
		}
		if _, ok := pub.(ed25519.PublicKey); !ok || k.Alg != token.EdDSA {
			return nil, fmt.Errorf("securitor: key %q: want an EdDSA Ed25519 key", kid)
		}
		v.Keys[kid] = token.Key{Alg: token.EdDSA, Public: pub}
		v.PEM[kid] = []byte(k.PEM)
	}
	return v, nil
}

// openLog restores the audit log, refusing one whose chain is broken, and
// opens it for appending. A last line cut short by a crash is dropped: its
// request was never answered.
func (s *Server) openLog() error {
	s.log = &audit.Log{}
	s.used = map[string]bool{}
	if s.dir == "" {
		return nil
	}
	path := filepath.Join(s.dir, auditFile)
	b, err := storage.ReadFile(s.fs, path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var entries []audit.Entry
	good := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if good+len(line) >= len(b) { // no newline: torn
			break
		}
		var e audit.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("securitor: audit log entry %d unreadable: %w", len(entries), err)
		}
		entries = append(entries, e)
		good += len(line) + 1
	}
	if s.log, err = audit.Restore(entries); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Decision == "allow" && e.JTI != "" {
			s.used[e.JTI] = true
		}
	}
	if good != len(b) {
		if err := storage.WriteFileAtomic(s.fs, path, b[:good], 0o600); err != nil {
			return err
		}
	}
	s.logFile, err = s.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	return s.fs.SyncDir(s.dir)
}

// handle decides, acts, audits, answers.
func (s *Server) handle(r request) (any, error) {
	if r.Req == nil {
		return nil, node.NewRPCError(node.MalformedRequest, r.Type+" needs req, the request id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ver == nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "not initialised")
	}
	e := audit.Entry{Req: *r.Req, Op: r.Type, Key: r.Key}
	deny := func(code int, why string) (any, error) {
		e.Decision = "deny: " + why
		if err := s.appendAudit(e); err != nil {
			return nil, err
		}
		return nil, node.NewRPCError(code, why)
	}
	if r.Token == nil {
		return deny(CodeUnauthenticated, "no token")
	}
	claims, err := s.ver.Verify(*r.Token)
	if err != nil {
		return deny(CodeUnauthenticated, err.Error())
	}
	e.Subject, e.JTI = claims.Subject, claims.ID
	if claims.ID == "" {
		return deny(CodeUnauthenticated, "token has no jti, so replays could not be told apart")
	}
	if s.used[claims.ID] {
		return deny(CodeUnauthenticated, fmt.Sprintf("token %q already used (replay)", claims.ID))
	}
	if !allowed(claims.Role, r.Type) {
		return deny(CodeForbidden, fmt.Sprintf("role %q may not %s", claims.Role, r.Type))
	}
	reply, err := s.apply(r)
	var rpc *node.RPCError
	if err != nil && !errors.As(err, &rpc) {
		return nil, err // storage failed: nothing decided, nothing audited
	}
	e.Decision = "allow"
	s.used[claims.ID] = true
	if aerr := s.appendAudit(e); aerr != nil {
		return nil, aerr
	}
	if r.Type == "audit" {
		return map[string]any{"type": "audit_ok", "entries": s.log.Entries(), "root": s.log.Root()}, nil
	}
	return reply, err
}

func allowed(role, op string) bool {
	for _, p := range roles[role] {
		if p == op {
			return true
		}
	}
	return false
}

// apply performs an authorised request.
func (s *Server) apply(r request) (any, error) {
	switch r.Type {
	case "read":
		if s.cfg.Plaintext {
			v, ok := s.plain[r.Key]
			if !ok {
				return nil, node.NewRPCError(node.KeyDoesNotExist, "no value for "+r.Key)
			}
			return map[string]any{"type": "read_ok", "value": v}, nil
		}
		sv, ok := s.sealed[r.Key]
		if !ok {
			return nil, node.NewRPCError(node.KeyDoesNotExist, "no value for "+r.Key)
		}
		v, err := s.kr.Open(sv)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "read_ok", "value": string(v)}, nil
	case "write":
		if r.Value == nil || r.Key == "" {
			return nil, node.NewRPCError(node.MalformedRequest, "write needs a key and a string value")
		}
		if s.cfg.Plaintext {
			s.plain[r.Key] = *r.Value
		} else {
			sv, err := s.kr.Seal([]byte(*r.Value), r.Key)
			if err != nil {
				return nil, err
			}
			s.sealed[r.Key] = sv
		}
		return map[string]any{"type": "write_ok"}, s.persist()
	case "rotate":
		if err := s.kr.SetActive(r.KEK); err != nil {
			return nil, node.NewRPCError(node.MalformedRequest, err.Error())
		}
		n := 0
		for k, sv := range s.sealed {
			r, err := s.kr.Rewrap(sv)
			if err != nil {
				return nil, err
			}
			if r.KEK != sv.KEK {
				n++
			}
			s.sealed[k] = r
		}
		return map[string]any{"type": "rotate_ok", "rewrapped": n}, s.persist()
	case "audit":
		return nil, nil // answered by handle, after its own entry
	}
	return nil, node.NewRPCError(node.NotSupported, "unknown type "+r.Type)
}

// persist writes the state file atomically; the KEK ids it names are not
// secret, the KEKs themselves never touch the disk.
func (s *Server) persist() error {
	if s.dir == "" {
		return nil
	}
	st := state{Active: s.kr.Active(), Sealed: s.sealed}
	if s.cfg.Plaintext {
		st.Sealed, st.Plain = nil, s.plain
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return storage.WriteFileAtomic(s.fs, filepath.Join(s.dir, stateFile), b, 0o600)
}

// appendAudit adds an entry and makes it durable before the answer.
func (s *Server) appendAudit(e audit.Entry) error {
	e = s.log.Append(e)
	if s.logFile == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.logFile.Write(append(b, '\n')); err != nil {
		return err
	}
	return s.logFile.Sync()
}
