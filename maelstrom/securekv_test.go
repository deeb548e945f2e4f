package maelstrom

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	jwt "github.com/golang-jwt/jwt/v5"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// secureKVNode is a single-node secure-kv store: it verifies tokens with
// golang-jwt (EdDSA pinned, audience, expiry), refuses replays and
// under-privileged requests, keeps values in memory and keeps an audit
// log, correct unless fault names a way to break it:
//
//	accept-all  serves every request, tokens unchecked
//	plaintext   also writes every value to a file in its data directory
//	audit-gap   leaves refused requests out of the audit log
//	tamper      rewrites an early entry's decision after hashing it
//	rotate-loses  a key rotation drops every value (a re-wrap that failed)
func secureKVNode(fault string) program.Program {
	return func(ctx context.Context, pio program.IO) error {
		var jwks map[string]struct{ Alg, PEM string }
		_ = json.Unmarshal([]byte(pio.Getenv("SECUREKV_JWKS")), &jwks)
		aud := pio.Getenv("SECUREKV_AUDIENCE")
		dir := pio.Getenv(program.EnvDataDir)
		return testnodes.Program(func() testnodes.Handlers {
			kv := map[string]string{}
			used := map[string]bool{}
			var entries []checker.SecureKVEntry
			var leaves [][]byte
			prev := hex.EncodeToString(make([]byte, 32))
			appendEntry := func(e checker.SecureKVEntry) {
				e.Seq, e.Prev = len(entries), prev
				c := checker.SecureKVCanonical(e)
				p, _ := hex.DecodeString(prev)
				h := sha256.Sum256(append(p, c...))
				e.Hash = hex.EncodeToString(h[:])
				prev = e.Hash
				lh := sha256.Sum256(append([]byte{0}, c...))
				leaves = append(leaves, lh[:])
				entries = append(entries, e)
			}
			verify := func(tok string) (jwt.MapClaims, error) {
				c := jwt.MapClaims{}
				_, err := jwt.ParseWithClaims(tok, c, func(t *jwt.Token) (any, error) {
					k, ok := jwks[fmt.Sprint(t.Header["kid"])]
					if !ok {
						return nil, fmt.Errorf("unknown kid")
					}
					return jwt.ParseEdPublicKeyFromPEM([]byte(k.PEM))
				}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(aud), jwt.WithExpirationRequired())
				return c, err
			}
			perms := map[string]map[string]bool{"reader": {"read": true}, "writer": {"read": true, "write": true},
				"admin": {"read": true, "rotate": true, "audit": true}}
			return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				var r struct {
					Req   int64   `json:"req"`
					Token *string `json:"token"`
					Key   string  `json:"key"`
					Value string  `json:"value"`
				}
				_ = json.Unmarshal(m.Raw, &r)
				e := checker.SecureKVEntry{Req: r.Req, Op: m.Type(), Key: r.Key}
				refuse := func(code int, why string) error {
					e.Decision = "deny: " + why
					if fault != "audit-gap" {
						appendEntry(e)
					}
					n.Reply(m, map[string]any{"type": "error", "code": code, "text": why})
					return nil
				}
				if fault != "accept-all" {
					if r.Token == nil {
						return refuse(1001, "no token")
					}
					c, err := verify(*r.Token)
					if err != nil {
						return refuse(1001, err.Error())
					}
					jti, _ := c["jti"].(string)
					role, _ := c["role"].(string)
					e.JTI = jti
					if used[jti] {
						return refuse(1001, "replayed")
					}
					if !perms[role][m.Type()] {
						return refuse(1003, "forbidden")
					}
					used[jti] = true
				}
				e.Decision = "allow"
				appendEntry(e)
				switch m.Type() {
				case "write":
					kv[r.Key] = r.Value
					if fault == "plaintext" {
						f := filepath.Join(dir, "values.txt")
						b, _ := storage.ReadFile(pio.Storage(), f)
						if err := storage.WriteFileAtomic(pio.Storage(), f, append(b, r.Value+"\n"...), 0o600); err != nil {
							return err
						}
					}
					n.Reply(m, map[string]any{"type": "write_ok"})
				case "read":
					v, ok := kv[r.Key]
					if !ok {
						n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no value"})
						return nil
					}
					n.Reply(m, map[string]any{"type": "read_ok", "value": v})
				case "rotate":
					if fault == "rotate-loses" {
						clear(kv)
					}
					n.Reply(m, map[string]any{"type": "rotate_ok", "rewrapped": 0})
				case "audit":
					out := append([]checker.SecureKVEntry(nil), entries...)
					if fault == "tamper" && len(out) > 3 {
						out[3].Decision = "deny: rewritten"
					}
					n.Reply(m, map[string]any{"type": "audit_ok", "entries": out, "root": hex.EncodeToString(merkleRoot(leaves))})
				}
				return nil
			}}
		})(ctx, pio)
	}
}

// merkleRoot is RFC 6962's tree hash, written again here so that the
// test does not lean on the checker's own.
func merkleRoot(leaves [][]byte) []byte {
	if len(leaves) == 0 {
		h := sha256.Sum256(nil)
		return h[:]
	}
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.Sum256(append(append([]byte{1}, merkleRoot(leaves[:k])...), merkleRoot(leaves[k:])...))
	return h[:]
}

func gradeSecureKV(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, secureKVNode(fault), "-w", "secure-kv", "--node-count", "1", "--time-limit", "8", "--rate", "60", "--concurrency", "4", "--rotate-every", "30", "--latency", "2")
}

func TestSecureKVCorrectNode(t *testing.T) {
	rep := gradeSecureKV(t, "")
	wantVerdict(t, rep, checker.Valid)
	res, _ := rep.Result("secure-kv")
	d := res.Details.(checker.SecureKVDetails)
	if d.HonestServed < 100 || len(d.Attacks) != 11 || d.Rotations == 0 || d.AuditEntries < 150 || d.AuditMatched < 150 {
		t.Fatalf("secure-kv figures %+v: the workload did not exercise the checker", d)
	}
}

func TestSecureKVAcceptAll(t *testing.T) {
	firstViolation(t, gradeSecureKV(t, "accept-all"), "secure-kv", "bad request served")
}

func TestSecureKVPlaintext(t *testing.T) {
	v := firstViolation(t, gradeSecureKV(t, "plaintext"), "secure-kv", "plaintext on disk")
	if v.Op == nil {
		t.Fatalf("violation %+v does not name the write", v)
	}
}

func TestSecureKVAuditGap(t *testing.T) {
	firstViolation(t, gradeSecureKV(t, "audit-gap"), "secure-kv", "request missing from the audit log")
}

func TestSecureKVTamperedAudit(t *testing.T) {
	firstViolation(t, gradeSecureKV(t, "tamper"), "secure-kv", "audit log does not verify")
}

func TestSecureKVRotationLosesValues(t *testing.T) {
	firstViolation(t, gradeSecureKV(t, "rotate-loses"), "secure-kv", "acknowledged write lost")
}
