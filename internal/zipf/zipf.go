// Package zipf draws ranks from a Zipf distribution over a finite set of
// n items: item k (0-based) has probability proportional to 1/(k+1)^s.
//
// It is the skewed key popularity of the caches, proxies, loadbalancers
// and sharder workloads and benchmarks: a few hot keys, a long tail. Unlike
// math/rand/v2's Zipf, any skew s ≥ 0 is allowed (s = 0 is uniform, web
// caches see s ≈ 0.6–1.0, which rand.Zipf, requiring s > 1, cannot draw),
// and Prob gives each item's exact probability, so that tests and lessons
// can compare a cache's hit ratio with the ideal one.
//
// Sampling inverts the cumulative distribution by binary search over a
// table built once: O(n) memory, O(log n) per draw, exact for every s.
package zipf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Zipf is a Zipf distribution over ranks 0..n-1. It holds no random
// state: callers pass their own *rand.Rand, so one table serves many
// seeded streams.
type Zipf struct {
	s   float64
	cdf []float64 // cdf[k] = P(rank ≤ k); cdf[n-1] = 1
}

// New returns the distribution over n items with skew s.
func New(n int, s float64) (*Zipf, error) {
	if n < 1 {
		return nil, fmt.Errorf("zipf: need at least one item, got n=%d", n)
	}
	if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("zipf: skew must be a finite number ≥ 0, got %v", s)
	}
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	cdf[n-1] = 1 // no rounding gap above the last item
	return &Zipf{s: s, cdf: cdf}, nil
}

// N is the number of items.
func (z *Zipf) N() int { return len(z.cdf) }

// Skew is s.
func (z *Zipf) Skew() float64 { return z.s }

// Sample draws a rank in [0, N()); rank 0 is the most popular item.
func (z *Zipf) Sample(r *rand.Rand) int {
	u := r.Float64()
	return sort.Search(len(z.cdf)-1, func(k int) bool { return z.cdf[k] > u })
}

// Prob is the probability of rank k.
func (z *Zipf) Prob(k int) float64 {
	if k < 0 || k >= len(z.cdf) {
		return 0
	}
	if k == 0 {
		return z.cdf[0]
	}
	return z.cdf[k] - z.cdf[k-1]
}

// TopMass is the probability that a draw falls in the c most popular
// items: the hit ratio of an ideal cache of capacity c that always holds
// exactly the c hottest items (no cache that learns popularity online can
// beat it on an independent Zipf stream).
func (z *Zipf) TopMass(c int) float64 {
	if c <= 0 {
		return 0
	}
	if c >= len(z.cdf) {
		return 1
	}
	return z.cdf[c-1]
}

// Trace draws count ranks with a generator seeded by seed: the same
// arguments always give the same trace, so that benchmarks can feed
// several caches one identical stream.
func (z *Zipf) Trace(seed uint64, count int) []int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]int, count)
	for i := range out {
		out[i] = z.Sample(r)
	}
	return out
}
