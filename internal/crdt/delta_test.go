package crdt

import (
	"testing"

	"pgregory.net/rapid"
)

// checkDeltaLaws checks that a delta carries everything the receiver
// lacks (o ⊔ Δ = o ⊔ c), nothing the sender does not have (Δ ⊑ c), and is
// empty exactly when the receiver already covers the sender.
func checkDeltaLaws[S any](t *testing.T, gen *rapid.Generator[S], clone func(S) S, merge func(S, S), equal func(S, S) bool, delta func(S, S) S, isZero func(S) bool) {
	rapid.Check(t, func(t *rapid.T) {
		c, o := gen.Draw(t, "c"), gen.Draw(t, "o")
		join := func(x, y S) S { z := clone(x); merge(z, y); return z }
		d := delta(c, o)
		if !equal(join(o, d), join(o, c)) {
			t.Fatal("o ⊔ c.Delta(o) differs from o ⊔ c")
		}
		if !equal(join(c, d), c) {
			t.Fatal("c.Delta(o) holds something c does not")
		}
		covered := equal(join(o, c), o)
		if isZero(d) != covered {
			t.Fatalf("delta empty = %v, but o covers c = %v", isZero(d), covered)
		}
		if !isZero(delta(c, join(o, c))) {
			t.Fatal("delta to a replica that has merged c is not empty")
		}
	})
}

func TestGCounterDeltaLaws(t *testing.T) {
	checkDeltaLaws(t, genGCounter(), (*GCounter).Clone, (*GCounter).Merge, (*GCounter).Equal, (*GCounter).Delta, (*GCounter).IsZero)
}

func TestPNCounterDeltaLaws(t *testing.T) {
	checkDeltaLaws(t, genPNCounter(), (*PNCounter).Clone, (*PNCounter).Merge, (*PNCounter).Equal, (*PNCounter).Delta, (*PNCounter).IsZero)
}

func TestGSetDeltaLaws(t *testing.T) {
	checkDeltaLaws(t, genGSet(), (*GSet[int]).Clone, (*GSet[int]).Merge, (*GSet[int]).Equal, (*GSet[int]).Delta, (*GSet[int]).IsZero)
}
