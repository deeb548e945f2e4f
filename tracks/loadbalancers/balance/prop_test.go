package balance

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPickAlwaysFindsAnEligibleBackend: under random picks (some avoiding
// backends, as retries do), finishes, health changes and ejections, every
// algorithm picks an eligible backend whenever there is one, never an
// ineligible one then, and never an avoided one.
func TestPickAlwaysFindsAnEligibleBackend(t *testing.T) {
	for _, alg := range []Algorithm{RoundRobin(), SmoothWeighted(), LeastOutstanding(), PowerOfTwo(), must(BoundedHash(0.25, 16))} {
		c := newClock()
		r := rand.New(rand.NewPCG(9, 9))
		p := mustPool(t, []Backend{{"a", 4}, {"b", 4}, {"c", 2}, {"d", 1}}, Options{Algorithm: alg, Now: c.now, Rand: r,
			Health: &Health{Rise: 1, Fall: 1}, Outlier: Outlier{Consecutive: 2, BaseEjection: 50 * time.Millisecond, MaxEjectionPercent: 50}})
		var held []int
		for step := range 20000 {
			c.add(time.Duration(r.IntN(3)) * time.Millisecond)
			switch k := r.IntN(10); {
			case k == 0:
				p.HealthResult(r.IntN(4), r.IntN(3) > 0)
			case k < 4 && len(held) > 0:
				j := r.IntN(len(held))
				p.Done(held[j], r.IntN(4) == 0)
				held = append(held[:j], held[j+1:]...)
			default:
				var avoid []int
				if r.IntN(3) == 0 {
					avoid = append(avoid, r.IntN(4))
				}
				st := p.Status()
				eligible := 0
				for i, s := range st {
					if s.Healthy && !s.Ejected && (len(avoid) == 0 || avoid[0] != i) {
						eligible++
					}
				}
				i, err := p.Pick("k"+string(rune('a'+r.IntN(20))), avoid...)
				if eligible > 0 && err != nil {
					t.Fatalf("%v step %d: %v with %d eligible, %d in flight: %+v", alg, step, err, eligible, len(held), st)
				}
				if err == nil {
					if s := st[i]; (eligible > 0 && (!s.Healthy || s.Ejected)) || (len(avoid) > 0 && avoid[0] == i) {
						t.Fatalf("%v step %d picked ineligible %+v", alg, step, s)
					}
					held = append(held, i)
				}
			}
		}
	}
}
