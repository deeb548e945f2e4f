package crdt

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/clocks"
	"pgregory.net/rapid"
)

var nodes = []string{"n0", "n1", "n2", "n3"}

func genGCounter() *rapid.Generator[*GCounter] {
	return rapid.Custom(func(t *rapid.T) *GCounter {
		c := NewGCounter()
		for range rapid.IntRange(0, 6).Draw(t, "ops") {
			c.Increment(rapid.SampledFrom(nodes).Draw(t, "node"), rapid.Uint64Range(0, 10).Draw(t, "delta"))
		}
		return c
	})
}

func genPNCounter() *rapid.Generator[*PNCounter] {
	return rapid.Custom(func(t *rapid.T) *PNCounter {
		c := NewPNCounter()
		for range rapid.IntRange(0, 6).Draw(t, "ops") {
			c.Increment(rapid.SampledFrom(nodes).Draw(t, "node"), rapid.Int64Range(-10, 10).Draw(t, "delta"))
		}
		return c
	})
}

func genGSet() *rapid.Generator[*GSet[int]] {
	return rapid.Custom(func(t *rapid.T) *GSet[int] {
		return NewGSet(rapid.SliceOfN(rapid.IntRange(0, 20), 0, 8).Draw(t, "elems")...)
	})
}

func genLWW() *rapid.Generator[*LWWRegister[int]] {
	return rapid.Custom(func(t *rapid.T) *LWWRegister[int] {
		r := &LWWRegister[int]{}
		for range rapid.IntRange(0, 3).Draw(t, "writes") {
			ts := clocks.Timestamp{Wall: rapid.Int64Range(0, 3).Draw(t, "wall"), Logical: uint32(rapid.IntRange(0, 2).Draw(t, "logical"))}
			node := rapid.IntRange(0, len(nodes)-1).Draw(t, "node")
			// One value per (timestamp, node): a node never stamps two
			// writes alike, which Write requires.
			r.Write(int(ts.Wall)*100+int(ts.Logical)*10+node, ts, nodes[node])
		}
		return r
	})
}

// checkJoinLaws checks that merge is commutative, associative and
// idempotent on states drawn from gen.
func checkJoinLaws[S any](t *testing.T, gen *rapid.Generator[S], clone func(S) S, merge func(S, S), equal func(S, S) bool) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := gen.Draw(t, "a"), gen.Draw(t, "b"), gen.Draw(t, "c")
		join := func(x, y S) S { z := clone(x); merge(z, y); return z }
		if !equal(join(a, b), join(b, a)) {
			t.Fatal("merge not commutative")
		}
		if !equal(join(join(a, b), c), join(a, join(b, c))) {
			t.Fatal("merge not associative")
		}
		if !equal(join(a, a), a) {
			t.Fatal("merge not idempotent")
		}
		// A join is an upper bound: merging either input again changes nothing.
		ab := join(a, b)
		if !equal(join(ab, a), ab) || !equal(join(ab, b), ab) {
			t.Fatal("merge result does not absorb its inputs")
		}
	})
}

func TestGCounterJoinLaws(t *testing.T) {
	checkJoinLaws(t, genGCounter(), (*GCounter).Clone, (*GCounter).Merge, (*GCounter).Equal)
}

func TestPNCounterJoinLaws(t *testing.T) {
	checkJoinLaws(t, genPNCounter(), (*PNCounter).Clone, (*PNCounter).Merge, (*PNCounter).Equal)
}

func TestGSetJoinLaws(t *testing.T) {
	checkJoinLaws(t, genGSet(), (*GSet[int]).Clone, (*GSet[int]).Merge, (*GSet[int]).Equal)
}

func TestLWWRegisterJoinLaws(t *testing.T) {
	clone := func(r *LWWRegister[int]) *LWWRegister[int] { c := *r; return &c }
	equal := func(a, b *LWWRegister[int]) bool { return *a == *b }
	checkJoinLaws(t, genLWW(), clone, (*LWWRegister[int]).Merge, equal)
}

// TestGossipNeverLosesAcknowledgedIncrements simulates replicas that
// increment and gossip whole states over a network that delays, reorders
// and duplicates them. No replica's value ever decreases, each always
// counts at least its own acknowledged increments, and once every state
// has reached every replica all agree on the exact total.
func TestGossipNeverLosesAcknowledgedIncrements(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, len(nodes)).Draw(t, "replicas")
		g := make([]*GCounter, n)
		pn := make([]*PNCounter, n)
		acked := make([]uint64, n)
		var ackedPN int64
		for i := range n {
			g[i], pn[i] = NewGCounter(), NewPNCounter()
		}
		type packet struct {
			to int
			g  *GCounter
			pn *PNCounter
		}
		var network []packet
		for range rapid.IntRange(0, 100).Draw(t, "steps") {
			i := rapid.IntRange(0, n-1).Draw(t, "replica")
			before := g[i].Value()
			switch rapid.IntRange(0, 2).Draw(t, "kind") {
			case 0:
				d := rapid.Uint64Range(0, 5).Draw(t, "delta")
				g[i].Increment(nodes[i], d)
				acked[i] += d
				pd := rapid.Int64Range(-5, 5).Draw(t, "pndelta")
				pn[i].Increment(nodes[i], pd)
				ackedPN += pd
			case 1:
				to := rapid.IntRange(0, n-1).Draw(t, "to")
				network = append(network, packet{to, g[i].Clone(), pn[i].Clone()})
			case 2:
				if len(network) == 0 {
					continue
				}
				k := rapid.IntRange(0, len(network)-1).Draw(t, "packet")
				p := network[k]
				if !rapid.Bool().Draw(t, "duplicate") {
					network = slices.Delete(network, k, k+1)
				}
				i = p.to
				before = g[i].Value()
				g[i].Merge(p.g)
				pn[i].Merge(p.pn)
			}
			if g[i].Value() < before {
				t.Fatalf("replica %d value fell from %d to %d", i, before, g[i].Value())
			}
			if g[i].Get(nodes[i]) != acked[i] {
				t.Fatalf("replica %d holds %d of its own increments, acknowledged %d", i, g[i].Get(nodes[i]), acked[i])
			}
		}
		var total uint64
		for _, a := range acked {
			total += a
		}
		// Anti-entropy: every replica receives every other's final state.
		for i := range n {
			for j := range n {
				g[i].Merge(g[j])
				pn[i].Merge(pn[j])
			}
		}
		for i := range n {
			if g[i].Value() != total || pn[i].Value() != ackedPN {
				t.Fatalf("replica %d converged to %d/%d, want %d/%d", i, g[i].Value(), pn[i].Value(), total, ackedPN)
			}
		}
	})
}

func TestJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, p, s, r := genGCounter().Draw(t, "g"), genPNCounter().Draw(t, "p"), genGSet().Draw(t, "s"), genLWW().Draw(t, "r")
		var g2 GCounter
		var p2 PNCounter
		var s2 GSet[int]
		var r2 LWWRegister[int]
		for _, rt := range []struct{ in, out any }{{g, &g2}, {p, &p2}, {s, &s2}, {r, &r2}} {
			b, err := json.Marshal(rt.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, rt.out); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
		}
		if !g.Equal(&g2) || !p.Equal(&p2) || !s.Equal(&s2) || *r != r2 {
			t.Fatal("state changed in a JSON round trip")
		}
	})
}

func TestEncodingsAndValues(t *testing.T) {
	var g GCounter
	g.Increment("n1", 2)
	g.Increment("n0", 3)
	if b, _ := json.Marshal(&g); string(b) != `{"n0":3,"n1":2}` || g.Value() != 5 {
		t.Fatalf("GCounter %s value %d", b, g.Value())
	}
	var p PNCounter
	p.Increment("n0", 5)
	p.Increment("n1", -7)
	if b, _ := json.Marshal(&p); string(b) != `{"p":{"n0":5},"n":{"n1":7}}` || p.Value() != -2 {
		t.Fatalf("PNCounter %s value %d", b, p.Value())
	}
	s := NewGSet("b", "a")
	if b, _ := json.Marshal(s); string(b) != `["a","b"]` {
		t.Fatalf("GSet %s", b)
	}
	if b, _ := json.Marshal(&GSet[int]{}); string(b) != `[]` {
		t.Fatalf("empty GSet %s", b)
	}
	if !slices.Equal(NewGSet(1, 2, 3).Missing(NewGSet(2)), []int{1, 3}) {
		t.Fatal("Missing")
	}
	var r LWWRegister[string]
	ts := clocks.Timestamp{Wall: 5}
	if !r.Write("x", ts, "n1") || r.Write("y", ts, "n0") || !r.Write("z", ts, "n2") {
		t.Fatal("ties must go to the larger node id")
	}
	if v, ok := r.Get(); !ok || v != "z" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
}

func BenchmarkGCounterMerge(b *testing.B) {
	x, y := NewGCounter(), NewGCounter()
	for i, n := range nodes {
		x.Increment(n, uint64(i))
		y.Increment(n, uint64(10-i))
	}
	for b.Loop() {
		x.Clone().Merge(y)
	}
}

func BenchmarkGSetMerge1000(b *testing.B) {
	x, y := NewGSet[int](), NewGSet[int]()
	for i := range 1000 {
		x.Add(2 * i)
		y.Add(3 * i)
	}
	for b.Loop() {
		x.Clone().Merge(y)
	}
}
