package policy

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/ristretto/v2"
	arc "github.com/hashicorp/golang-lru/arc/v2"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/distsys-curriculum/distsys/internal/zipf"
)

// The comparison the lesson prints: our policies beside hashicorp's LRU,
// 2Q and ARC and ristretto's sampled TinyLFU, each fed the same Zipf
// traces (100 000 keys, 1 000 000 requests, a miss followed by a fill) at
// the same capacity. Run it once:
//
//	go test -run '^$' -bench HitRatio ./tracks/caches/policy/
//
// hit% is over one full pass of the trace on a fresh cache; ns/op is a
// request (Get, and Set on a miss) in a steady loop over the same trace.

const (
	benchKeys     = 100000
	benchRequests = 1000000
)

// adapter turns a library's cache into get/set closures over one trace.
type adapter struct {
	name string
	make func(capacity int, measuring bool) (get func(uint64) bool, set func(uint64))
}

func mix(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 }

func ours(name string) adapter {
	return adapter{name: "ours " + name, make: func(capacity int, measuring bool) (func(uint64) bool, func(uint64)) {
		c, err := New[uint64, uint64](name, capacity, mix)
		if err != nil {
			panic(err)
		}
		return func(k uint64) bool { _, ok := c.Get(k); return ok }, func(k uint64) { c.Set(k, k) }
	}}
}

var adapters = []adapter{
	ours("lru"), ours("lfu"), ours("tinylfu"),
	{"golang-lru LRU", func(capacity int, measuring bool) (func(uint64) bool, func(uint64)) {
		c, _ := lru.New[uint64, uint64](capacity)
		return func(k uint64) bool { _, ok := c.Get(k); return ok }, func(k uint64) { c.Add(k, k) }
	}},
	{"golang-lru 2Q", func(capacity int, measuring bool) (func(uint64) bool, func(uint64)) {
		c, _ := lru.New2Q[uint64, uint64](capacity)
		return func(k uint64) bool { _, ok := c.Get(k); return ok }, func(k uint64) { c.Add(k, k) }
	}},
	{"golang-lru ARC", func(capacity int, measuring bool) (func(uint64) bool, func(uint64)) {
		c, _ := arc.NewARC[uint64, uint64](capacity)
		return func(k uint64) bool { _, ok := c.Get(k); return ok }, func(k uint64) { c.Add(k, k) }
	}},
	{"ristretto", func(capacity int, measuring bool) (func(uint64) bool, func(uint64)) {
		// Its recommended settings: ten counters per entry, cost 1 per
		// entry. Set is asynchronous; when measuring the hit ratio, Wait
		// makes each fill land before the next request (ristretto's best
		// case); the timed loop does not wait.
		c, err := ristretto.NewCache(&ristretto.Config[uint64, uint64]{
			NumCounters: int64(10 * capacity), MaxCost: int64(capacity), BufferItems: 64, IgnoreInternalCost: true,
		})
		if err != nil {
			panic(err)
		}
		return func(k uint64) bool { _, ok := c.Get(k); return ok }, func(k uint64) {
			c.Set(k, k, 1)
			if measuring {
				c.Wait()
			}
		}
	}},
}

func BenchmarkHitRatio(b *testing.B) {
	for _, skew := range []float64{0.8, 1.01} {
		z, err := zipf.New(benchKeys, skew)
		if err != nil {
			b.Fatal(err)
		}
		trace := z.Trace(1, benchRequests)
		for _, capacity := range []int{1000, 10000} {
			for _, a := range adapters {
				name := fmt.Sprintf("s=%.2f/cap=%d/%s", skew, capacity, a.name)
				// The hit ratio is a property of the trace, not of b.N:
				// one pass, outside b.Run (which may call its function
				// more than once).
				get, set := a.make(capacity, true)
				hits := 0
				for _, r := range trace {
					k := uint64(r)
					if get(k) {
						hits++
					} else {
						set(k)
					}
				}
				b.Run(name, func(b *testing.B) {
					get, set := a.make(capacity, false)
					for i := range b.N {
						k := uint64(trace[i%len(trace)])
						if !get(k) {
							set(k)
						}
					}
					b.ReportMetric(100*float64(hits)/float64(len(trace)), "hit%")
					b.ReportMetric(100*z.TopMass(capacity), "ideal%")
				})
			}
		}
	}
}
