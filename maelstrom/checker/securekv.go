package checker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// SecureKV judges the secure-kv workload: a key-value store whose every
// request carries a JSON Web Token, among which an attacker mixes bad
// ones. It checks that
//
//   - every bad request (forged, expired, not yet valid, wrong audience,
//     alg none, alg switched to HS256, unknown key id, replayed,
//     under-privileged, malformed) was refused, with error 1001
//     (unauthenticated) or, for a valid token without the permission,
//     1003 (forbidden), and a text;
//   - every honest request was served;
//   - reads return what honest writes wrote: no forged value, no value
//     overwritten before the read began, no acknowledged write lost (key
//     rotations and restarts included);
//   - the audit log read at the end verifies (hash chain and Merkle root,
//     recomputed here) and records every request that got an answer, with
//     the decision the client saw;
//   - no written value appears in plaintext in any node's data directory.

// Secure-kv error codes, above Maelstrom's range.
const (
	SecureKVUnauthenticated = 1001
	SecureKVForbidden       = 1003
)

// SecureKVUnderPrivileged is the attack kind whose token is valid but
// lacks the permission; it must be refused with 1003.
const SecureKVUnderPrivileged = "under-privileged"

// SecureKVOp is one request as the history records it.
type SecureKVOp struct {
	Req   int64          `json:"req"`
	Kind  string         `json:"kind"` // "honest" or the attack's kind
	Op    string         `json:"op"`   // read, write, rotate, audit
	Key   string         `json:"key,omitempty"`
	Value string         `json:"value,omitempty"` // write: sent; read: read back
	Found bool           `json:"found,omitempty"` // read: the key had a value
	KEK   string         `json:"kek,omitempty"`   // rotate: the new key-encryption key
	Audit *SecureKVAudit `json:"audit,omitempty"` // audit: the log read back
	Token string         `json:"-"`
}

// SecureKVEntry is one audit log entry as the node returns it.
type SecureKVEntry struct {
	Seq      int    `json:"seq"`
	Req      int64  `json:"req"`
	Subject  string `json:"sub"`
	JTI      string `json:"jti"`
	Op       string `json:"op"`
	Key      string `json:"key"`
	Decision string `json:"decision"`
	Prev     string `json:"prev"`
	Hash     string `json:"hash"`
}

// SecureKVAudit is an audit reply.
type SecureKVAudit struct {
	Entries []SecureKVEntry `json:"entries"`
	Root    string          `json:"root"`
}

// SecureKVData is what the grader read from the nodes' data directories
// after the run: node → file path → contents.
type SecureKVData struct {
	Files   map[string]map[string][]byte
	ScanErr error
}

// SecureKVValuePrefix starts every value the workload writes, so that the
// plaintext scan finds candidates fast; SecureKVValueLen is a value's
// whole length.
const (
	SecureKVValuePrefix = "sv-"
	SecureKVValueLen    = len(SecureKVValuePrefix) + 16
)

// SecureKVAttack counts one attack kind's requests.
type SecureKVAttack struct {
	Sent    int `json:"sent"`
	Refused int `json:"refused"`
	Served  int `json:"served"`
	Unknown int `json:"unknown"`
}

// SecureKVDetails are the figures of a run.
type SecureKVDetails struct {
	Honest        int                       `json:"honest"`
	HonestServed  int                       `json:"honest_served"`
	HonestRefused int                       `json:"honest_refused"`
	HonestUnknown int                       `json:"honest_unknown"`
	Attacks       map[string]SecureKVAttack `json:"attacks"`
	Rotations     int                       `json:"rotations"`
	ReadsJudged   int                       `json:"reads_judged"`
	AuditEntries  int                       `json:"audit_entries"`
	AuditRoot     string                    `json:"audit_root,omitempty"`
	AuditMatched  int                       `json:"audit_matched"` // answered requests found in the log
	FilesScanned  int                       `json:"files_scanned"`
	BytesScanned  int64                     `json:"bytes_scanned"`
}

const secureKVMaxViolations = 10

type skvWrite struct {
	inv, comp time.Duration // comp is MaxInt64 for a write of unknown outcome
	ok        bool
	op        op
}

// SecureKV judges a history of secure-kv operations.
func SecureKV(h history.History, data SecureKVData) Result {
	d := SecureKVDetails{Attacks: map[string]SecureKVAttack{}}
	var vs []Violation
	add := func(v Violation) {
		if len(vs) < secureKVMaxViolations {
			vs = append(vs, v)
		}
	}
	ops := pairUp(h)
	writes := map[string]map[string]skvWrite{} // key → value → honest write
	attackValues := map[string]op{}
	for _, p := range ops {
		v, ok := p.invoke.Value.(SecureKVOp)
		if !ok || v.Op != "write" {
			continue
		}
		if v.Kind != "honest" {
			attackValues[v.Value] = p
			continue
		}
		w := skvWrite{inv: p.invoke.Time, comp: time.Duration(math.MaxInt64), op: p}
		if p.outcome() == history.OK {
			w.comp, w.ok = p.completion.Time, true
		}
		if p.outcome() == history.Fail {
			continue
		}
		if writes[v.Key] == nil {
			writes[v.Key] = map[string]skvWrite{}
		}
		writes[v.Key][v.Value] = w
	}

	var audit *SecureKVAudit
	var auditOp op
	for _, p := range ops {
		v, ok := p.invoke.Value.(SecureKVOp)
		if !ok {
			continue
		}
		out := p.outcome()
		if v.Kind != "honest" {
			a := d.Attacks[v.Kind]
			a.Sent++
			switch out {
			case history.OK:
				a.Served++
				add(Violation{What: "bad request served", Node: p.node(), Op: p.observed(), Value: v.Kind, Time: p.observed().Time,
					Detail: fmt.Sprintf("a %s request (%s %q) was served: the node must refuse it with error %d", v.Kind, v.Op, v.Key, wantCode(v.Kind))})
			case history.Fail:
				a.Refused++
				e := p.completion.Error
				if e == nil || e.Code != wantCode(v.Kind) || strings.TrimSpace(e.Text) == "" {
					add(Violation{What: "refusal without a clear error", Node: p.node(), Op: p.observed(), Value: v.Kind, Time: p.observed().Time,
						Detail: fmt.Sprintf("a %s request was refused with %v; want error %d with a text saying why", v.Kind, e, wantCode(v.Kind))})
				}
			default:
				a.Unknown++
			}
			d.Attacks[v.Kind] = a
			continue
		}
		d.Honest++
		switch out {
		case history.OK:
			d.HonestServed++
		case history.Fail:
			d.HonestRefused++
			add(Violation{What: "allowed request refused", Node: p.node(), Op: p.observed(), Value: v.Op, Time: p.observed().Time,
				Detail: fmt.Sprintf("an honest %s with a valid token and the permission for it was refused (%v)", v.Op, p.completion.Error)})
			continue
		default:
			d.HonestUnknown++
			continue
		}
		got, _ := p.completion.Value.(SecureKVOp)
		switch v.Op {
		case "rotate":
			d.Rotations++
		case "audit":
			if got.Audit != nil {
				audit, auditOp = got.Audit, p
			}
		case "read":
			d.ReadsJudged++
			if v := judgeRead(p, got, writes, attackValues); v != nil {
				add(*v)
			}
		}
	}

	if audit == nil {
		add(Violation{What: "audit log not read", Detail: "no audit request was answered in the final phase, so the log could not be verified"})
	} else {
		d.AuditEntries, d.AuditRoot = len(audit.Entries), audit.Root
		for _, v := range judgeAudit(ops, audit, auditOp, &d) {
			add(v)
		}
	}
	var end time.Duration // the scan happens after the run
	if len(h) > 0 {
		end = h[len(h)-1].Time
	}
	for _, v := range scanPlaintext(data, writes, attackValues, end, &d) {
		add(v)
	}

	res := Result{Checker: "secure-kv", Valid: Valid, Violations: vs, Details: d}
	if len(vs) > 0 {
		res.Valid = Invalid
	}
	res.Summary = secureKVSummary(d, vs)
	return res
}

func wantCode(kind string) int {
	if kind == SecureKVUnderPrivileged {
		return SecureKVForbidden
	}
	return SecureKVUnauthenticated
}

func judgeRead(p op, got SecureKVOp, writes map[string]map[string]skvWrite, attackValues map[string]op) *Violation {
	v := p.invoke.Value.(SecureKVOp)
	ri, rc := p.invoke.Time, p.completion.Time
	viol := func(what, detail string, val any) *Violation {
		return &Violation{What: what, Node: p.node(), Op: p.observed(), Value: val, Time: rc, Detail: detail}
	}
	if !got.Found {
		for val, w := range writes[v.Key] {
			if w.ok && w.comp < ri {
				return viol("acknowledged write lost", fmt.Sprintf("key %q read as missing at %s, but the write of %q was acknowledged at %s", v.Key, at(ri), val, at(w.comp)), val)
			}
		}
		return nil
	}
	w, ok := writes[v.Key][got.Value]
	if !ok {
		if _, bad := attackValues[got.Value]; bad {
			return viol("forged write took effect", fmt.Sprintf("key %q read %q, a value only a refused (bad) request wrote", v.Key, got.Value), got.Value)
		}
		return viol("read a value never written", fmt.Sprintf("key %q read %q, which no honest request wrote to it", v.Key, got.Value), got.Value)
	}
	if w.inv > rc {
		return viol("read a value never written", fmt.Sprintf("key %q read %q before its write began at %s", v.Key, got.Value, at(w.inv)), got.Value)
	}
	for val, w2 := range writes[v.Key] {
		if w2.ok && w2.comp < ri && w2.inv > w.comp {
			return viol("acknowledged write lost", fmt.Sprintf("key %q read %q at %s, but %q was written over it and acknowledged at %s", v.Key, got.Value, at(ri), val, at(w2.comp)), got.Value)
		}
	}
	return nil
}

// SecureKVCanonical is the byte string an audit entry's hash and Merkle
// leaf cover: the JSON array [seq, req, sub, jti, op, key, decision].
func SecureKVCanonical(e SecureKVEntry) []byte {
	b, _ := json.Marshal([]any{e.Seq, e.Req, e.Subject, e.JTI, e.Op, e.Key, e.Decision})
	return b
}

// skvMerkleRoot is the RFC 6962 Merkle tree hash of the leaves.
func skvMerkleRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(skvMerkleRoot(leaves[:k]))
	h.Write(skvMerkleRoot(leaves[k:]))
	return h.Sum(nil)
}

func judgeAudit(ops []op, a *SecureKVAudit, auditOp op, d *SecureKVDetails) []Violation {
	var vs []Violation
	node, t := auditOp.node(), auditOp.completion.Time
	bad := func(what string, val any, detail string) {
		vs = append(vs, Violation{What: what, Node: node, Op: auditOp.observed(), Value: val, Time: t, Detail: detail})
	}
	prev := hex.EncodeToString(make([]byte, sha256.Size))
	leaves := make([][]byte, len(a.Entries))
	byReq := map[int64]SecureKVEntry{}
	for i, e := range a.Entries {
		c := SecureKVCanonical(e)
		lh := sha256.Sum256(append([]byte{0}, c...))
		leaves[i] = lh[:]
		if e.Seq != i || e.Prev != prev {
			bad("audit log does not verify", e.Seq, fmt.Sprintf("entry %d has seq %d and prev %.12s…; want seq %d linking to %.12s…", i, e.Seq, e.Prev, i, prev))
			return vs
		}
		p, _ := hex.DecodeString(prev)
		hh := sha256.Sum256(append(p, c...))
		if hex.EncodeToString(hh[:]) != e.Hash {
			bad("audit log does not verify", e.Seq, fmt.Sprintf("entry %d's hash %.12s… is not SHA-256(prev || %s)", i, e.Hash, c))
			return vs
		}
		prev = e.Hash
		byReq[e.Req] = e
	}
	if root := hex.EncodeToString(skvMerkleRoot(leaves)); root != a.Root {
		bad("audit root mismatch", a.Root, fmt.Sprintf("the reported Merkle root is %.16s…; the entries give %.16s…", a.Root, root))
	}
	sent := map[int64]bool{}
	for _, p := range ops {
		v, ok := p.invoke.Value.(SecureKVOp)
		if !ok {
			continue
		}
		sent[v.Req] = true
		out := p.outcome()
		if out == history.Info || p.inv > auditOp.inv {
			continue
		}
		e, found := byReq[v.Req]
		if !found {
			if len(vs) < secureKVMaxViolations {
				vs = append(vs, Violation{What: "request missing from the audit log", Node: p.node(), Op: p.observed(), Value: v.Req, Time: p.observed().Time,
					Detail: fmt.Sprintf("request %d (%s %s) was answered but the audit log has no entry for it", v.Req, v.Kind, v.Op)})
			}
			continue
		}
		if allow := e.Decision == "allow"; allow != (out == history.OK) {
			if len(vs) < secureKVMaxViolations {
				vs = append(vs, Violation{What: "audit decision differs", Node: p.node(), Op: p.observed(), Value: e.Decision, Time: p.observed().Time,
					Detail: fmt.Sprintf("request %d was answered %s, but the audit log says %q", v.Req, out, e.Decision)})
			}
			continue
		}
		d.AuditMatched++
	}
	for _, e := range a.Entries {
		if !sent[e.Req] {
			bad("audit entry for a request never sent", e.Req, fmt.Sprintf("audit entry %d names request %d, which no client sent", e.Seq, e.Req))
			break
		}
	}
	return vs
}

func scanPlaintext(data SecureKVData, writes map[string]map[string]skvWrite, attackValues map[string]op, end time.Duration, d *SecureKVDetails) []Violation {
	var vs []Violation
	if data.ScanErr != nil {
		return []Violation{{What: "data directory unreadable", Time: end, Detail: "the grader could not scan the nodes' data: " + data.ScanErr.Error()}}
	}
	written := map[string]op{} // value → the request that sent it
	for _, m := range writes {
		for v, w := range m {
			written[v] = w.op
		}
	}
	for v, p := range attackValues {
		written[v] = p
	}
	nodes := make([]string, 0, len(data.Files))
	for n := range data.Files {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	prefix := []byte(SecureKVValuePrefix)
	for _, n := range nodes {
		paths := make([]string, 0, len(data.Files[n]))
		for p := range data.Files[n] {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			b := data.Files[n][p]
			d.FilesScanned++
			d.BytesScanned += int64(len(b))
			for off := 0; ; {
				i := bytes.Index(b[off:], prefix)
				if i < 0 {
					break
				}
				start := off + i
				off = start + 1
				if start+SecureKVValueLen > len(b) {
					break
				}
				v := string(b[start : start+SecureKVValueLen])
				if w, ok := written[v]; ok {
					vs = append(vs, Violation{What: "plaintext on disk", Node: n, Op: w.observed(), Value: v, Time: end,
						Detail: fmt.Sprintf("the value %q, sent at %s, is stored in plaintext in %s at byte %d (scanned after the run); values must be encrypted at rest", v, at(w.invoke.Time), p, start)})
					break
				}
			}
			if len(vs) >= 3 {
				return vs
			}
		}
	}
	return vs
}

func secureKVSummary(d SecureKVDetails, vs []Violation) string {
	refused, sent, served := 0, 0, 0
	for _, a := range d.Attacks {
		refused += a.Refused
		sent += a.Sent
		served += a.Served
	}
	s := fmt.Sprintf("%d/%d honest requests served (%d unknown); %d/%d attacks of %d kinds refused (%d served); %d key rotations; %d reads judged; audit log %d entries (%d answered requests matched); %d bytes in %d files scanned",
		d.HonestServed, d.Honest, d.HonestUnknown, refused, sent, len(d.Attacks), served, d.Rotations, d.ReadsJudged, d.AuditEntries, d.AuditMatched, d.BytesScanned, d.FilesScanned)
	if len(vs) > 0 {
		s += fmt.Sprintf("; first violation: %s", vs[0].What)
	}
	return s
}
