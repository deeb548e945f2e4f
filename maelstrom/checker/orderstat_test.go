package checker

import (
	"math/rand/v2"
	"testing"
)

func TestOrderStatAgainstSlice(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 5))
		n := r.IntN(70)
		o := newOrderStat(n)
		in := make([]bool, n)
		for i := range in {
			in[i] = true
		}
		for range 3 * n {
			if n > 0 {
				i := r.IntN(n)
				o.remove(i)
				in[i] = false
			}
			k := r.IntN(n + 1)
			count, largest := 0, -1
			for i := range k {
				if in[i] {
					count++
					largest = i
				}
			}
			if got := o.countBelow(k); got != count {
				t.Fatalf("seed %d: countBelow(%d) = %d, want %d", seed, k, got, count)
			}
			if got := o.prevBelow(k); got != largest {
				t.Fatalf("seed %d: prevBelow(%d) = %d, want %d", seed, k, got, largest)
			}
			if largest >= 0 {
				want := -1
				for i := largest - 1; i >= 0; i-- {
					if in[i] {
						want = i
						break
					}
				}
				if got := o.prev(largest); got != want {
					t.Fatalf("seed %d: prev(%d) = %d, want %d", seed, largest, got, want)
				}
			}
		}
	}
}
