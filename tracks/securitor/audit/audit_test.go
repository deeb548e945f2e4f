package audit

import (
	"errors"
	"fmt"
	"testing"
)

func build(n int) *Log {
	l := &Log{}
	for i := range n {
		l.Append(Entry{Subject: fmt.Sprint("c", i%3), JTI: fmt.Sprint("j", i), Req: int64(i), Op: "write", Key: fmt.Sprint("k", i%5), Decision: "allow"})
	}
	return l
}

func TestChainDetectsTampering(t *testing.T) {
	l := build(20)
	if err := VerifyChain(l.Entries()); err != nil {
		t.Fatal(err)
	}
	tamper := map[string]func([]Entry) []Entry{
		"edited decision": func(es []Entry) []Entry { es[7].Decision = "deny: nope"; return es },
		"dropped entry":   func(es []Entry) []Entry { return append(es[:5], es[6:]...) },
		"swapped entries": func(es []Entry) []Entry { es[3], es[4] = es[4], es[3]; return es },
		"rehashed edit": func(es []Entry) []Entry {
			es[2].Key = "other"
			es[2].Hash, _ = chainHash(es[2].Prev, es[2]) // the link to entry 3 still breaks
			return es
		},
	}
	for name, f := range tamper {
		es := f(append([]Entry(nil), l.Entries()...))
		if err := VerifyChain(es); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: not detected (%v)", name, err)
		}
		if _, err := Restore(es); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
}

// TestInclusionProofs checks every entry of logs of every size up to 33
// against the root, and that a changed entry, index or root fails.
func TestInclusionProofs(t *testing.T) {
	for n := 1; n <= 33; n++ {
		l := build(n)
		root := l.Root()
		for i := range n {
			p, err := l.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			e := l.Entries()[i]
			if err := VerifyInclusion(e, i, n, p, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			bad := e
			bad.Decision = "deny: forged"
			if VerifyInclusion(bad, i, n, p, root) == nil {
				t.Fatalf("n=%d i=%d: a changed entry verified", n, i)
			}
			if n > 1 && VerifyInclusion(e, (i+1)%n, n, p, root) == nil {
				t.Fatalf("n=%d i=%d: the proof verified at another index", n, i)
			}
		}
	}
	l := build(8)
	other := build(9).Root()
	p, _ := l.Proof(3)
	if VerifyInclusion(l.Entries()[3], 3, 8, p, other) == nil {
		t.Fatal("verified against another log's root")
	}
}

// TestRootKnownValue pins the tree layout: the root of a one-entry log is
// SHA-256(0x00 || canonical), as in RFC 6962.
func TestRootKnownValue(t *testing.T) {
	l := &Log{}
	if got := l.Root(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %s", got)
	}
	e := l.Append(Entry{Subject: "c1", JTI: "j1", Req: 1, Op: "read", Key: "k", Decision: "allow"})
	if string(e.Canonical()) != `[0,1,"c1","j1","read","k","allow"]` {
		t.Fatalf("canonical %s", e.Canonical())
	}
	if l.Root() == e.Hash {
		t.Fatal("the Merkle leaf and the chain hash coincide; they must not")
	}
}
