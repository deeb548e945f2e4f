// Package audit is a tamper-evident log of requests. Each entry's hash
// covers the previous entry's hash (a hash chain: changing, dropping or
// reordering any entry changes every hash after it), and the entries are
// the leaves of a Merkle tree in the layout of Certificate Transparency
// (RFC 6962), whose root commits to the whole log in 32 bytes and whose
// inclusion proofs show one entry is in the log with log2(n) hashes.
// The securitor node appends one entry per request before answering; the
// grader recomputes chain and root from the entries it reads back.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Entry is one audited request.
type Entry struct {
	Seq      int    `json:"seq"`
	Req      int64  `json:"req"` // the request's id, given by the client
	Subject  string `json:"sub"` // who the token says is asking ("" if no token verified)
	JTI      string `json:"jti"` // the token's id, what replays are caught by
	Op       string `json:"op"`
	Key      string `json:"key"`
	Decision string `json:"decision"` // "allow" or "deny: <reason>"
	Prev     string `json:"prev"`     // hex hash of the previous entry
	Hash     string `json:"hash"`     // hex SHA-256(prev || Canonical)
}

// Canonical is the byte string an entry's hash and Merkle leaf cover: a
// JSON array of its fields, which has one encoding:
// [seq, req, sub, jti, op, key, decision].
func (e Entry) Canonical() []byte {
	b, _ := json.Marshal([]any{e.Seq, e.Req, e.Subject, e.JTI, e.Op, e.Key, e.Decision})
	return b
}

// Zero is the "previous hash" of the first entry.
var Zero = hex.EncodeToString(make([]byte, sha256.Size))

func chainHash(prev string, e Entry) (string, error) {
	p, err := hex.DecodeString(prev)
	if err != nil || len(p) != sha256.Size {
		return "", fmt.Errorf("audit: bad previous hash %q", prev)
	}
	h := sha256.New()
	h.Write(p)
	h.Write(e.Canonical())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Log is an append-only audit log in memory. Persisting its entries is
// the caller's job (one JSON line per entry).
type Log struct {
	entries []Entry
}

// Append fills in e's Seq, Prev and Hash and adds it.
func (l *Log) Append(e Entry) Entry {
	e.Seq = len(l.entries)
	e.Prev = Zero
	if n := len(l.entries); n > 0 {
		e.Prev = l.entries[n-1].Hash
	}
	e.Hash, _ = chainHash(e.Prev, e)
	l.entries = append(l.entries, e)
	return e
}

// Entries returns the log (shared; do not modify).
func (l *Log) Entries() []Entry { return l.entries }

// Len is the number of entries.
func (l *Log) Len() int { return len(l.entries) }

// Restore loads entries read back from disk, refusing them unless the
// chain verifies.
func Restore(entries []Entry) (*Log, error) {
	if err := VerifyChain(entries); err != nil {
		return nil, err
	}
	return &Log{entries: entries}, nil
}

// ErrTampered is wrapped by every verification failure.
var ErrTampered = errors.New("audit: log tampered with")

// VerifyChain checks sequence numbers, links and hashes from the start.
func VerifyChain(entries []Entry) error {
	prev := Zero
	for i, e := range entries {
		if e.Seq != i {
			return fmt.Errorf("%w: entry %d has seq %d", ErrTampered, i, e.Seq)
		}
		if e.Prev != prev {
			return fmt.Errorf("%w: entry %d does not link to entry %d", ErrTampered, i, i-1)
		}
		h, err := chainHash(prev, e)
		if err != nil || h != e.Hash {
			return fmt.Errorf("%w: entry %d's hash does not match its contents", ErrTampered, i)
		}
		prev = e.Hash
	}
	return nil
}

// Merkle tree hashing of RFC 6962 section 2.1: leaves and interior nodes
// get different prefixes, so a leaf can never pass for a node.
func leafHash(data []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, data...))
	return h[:]
}

func nodeHash(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// split is the largest power of two below n (n > 1).
func split(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func root(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(root(leaves[:k]), root(leaves[k:]))
}

func (l *Log) leaves() [][]byte {
	out := make([][]byte, len(l.entries))
	for i, e := range l.entries {
		out[i] = leafHash(e.Canonical())
	}
	return out
}

// Root is the Merkle tree hash of the log (hex).
func (l *Log) Root() string { return hex.EncodeToString(root(l.leaves())) }

// Proof returns the inclusion proof of entry i (RFC 6962 audit path).
func (l *Log) Proof(i int) ([][]byte, error) {
	if i < 0 || i >= len(l.entries) {
		return nil, fmt.Errorf("audit: no entry %d in a log of %d", i, len(l.entries))
	}
	return path(i, l.leaves()), nil
}

func path(i int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if i < k {
		return append(path(i, leaves[:k]), root(leaves[k:]))
	}
	return append(path(i-k, leaves[k:]), root(leaves[:k]))
}

// VerifyInclusion checks that e is entry i of a log of size n whose root
// is rootHex, given the audit path proof (RFC 9162 section 2.1.3.2).
func VerifyInclusion(e Entry, i, n int, proof [][]byte, rootHex string) error {
	want, err := hex.DecodeString(rootHex)
	if err != nil {
		return fmt.Errorf("audit: bad root %q", rootHex)
	}
	if i < 0 || i >= n {
		return fmt.Errorf("%w: index %d outside a log of %d", ErrTampered, i, n)
	}
	fn, sn := i, n-1
	r := leafHash(e.Canonical())
	for _, p := range proof {
		if sn == 0 {
			return fmt.Errorf("%w: proof too long", ErrTampered)
		}
		if fn%2 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn%2 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	if sn != 0 || !bytes.Equal(r, want) {
		return fmt.Errorf("%w: entry %d is not in the tree with root %s", ErrTampered, i, rootHex)
	}
	return nil
}
