package balance

import (
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/hashring"
)

// Algorithm chooses among the backends a Pool says are eligible. Its
// methods run under the pool's lock.
type Algorithm interface {
	// init returns the algorithm's state for one pool.
	init(p *Pool) any
	// pick returns an eligible backend (p.elig[i]), or -1.
	pick(p *Pool, key string) int
	// done hears that a request on backend i ended.
	done(p *Pool, i int)
	// String names the algorithm.
	String() string
}

// RoundRobin sends each request to the next eligible backend in turn.
func RoundRobin() Algorithm { return roundRobin{} }

type roundRobin struct{}

type rrState struct{ next int }

func (roundRobin) init(*Pool) any  { return &rrState{} }
func (roundRobin) done(*Pool, int) {}
func (roundRobin) String() string  { return "round-robin" }
func (roundRobin) pick(p *Pool, _ string) int {
	s := p.algoS.(*rrState)
	n := len(p.b)
	for k := range n {
		i := (s.next + k) % n
		if p.elig[i] {
			s.next = (i + 1) % n
			return i
		}
	}
	return -1
}

// SmoothWeighted is nginx's smooth weighted round robin: every pick adds
// each eligible backend's weight to its current score, takes the highest
// score and subtracts the total weight from it. Over any run of picks each
// backend gets its share of the weights, interleaved rather than in
// bursts: weights 5,1,1 give a a b a c a a, not a a a a a b c.
func SmoothWeighted() Algorithm { return smoothWeighted{} }

type smoothWeighted struct{}

type swState struct{ current []int }

func (smoothWeighted) init(p *Pool) any { return &swState{current: make([]int, len(p.b))} }
func (smoothWeighted) done(*Pool, int)  {}
func (smoothWeighted) String() string   { return "weighted" }
func (smoothWeighted) pick(p *Pool, _ string) int {
	s := p.algoS.(*swState)
	best, total := -1, 0
	for i, b := range p.b {
		if !p.elig[i] {
			continue
		}
		s.current[i] += b.Weight
		total += b.Weight
		if best < 0 || s.current[i] > s.current[best] {
			best = i
		}
	}
	if best >= 0 {
		s.current[best] -= total
	}
	return best
}

// LeastOutstanding sends each request to the eligible backend with the
// fewest requests in flight; ties go round robin, so that an idle pool is
// still spread.
func LeastOutstanding() Algorithm { return leastOutstanding{} }

type leastOutstanding struct{}

func (leastOutstanding) init(*Pool) any  { return &rrState{} }
func (leastOutstanding) done(*Pool, int) {}
func (leastOutstanding) String() string  { return "least-outstanding" }
func (leastOutstanding) pick(p *Pool, _ string) int {
	s := p.algoS.(*rrState)
	n := len(p.b)
	best := -1
	for k := range n {
		i := (s.next + k) % n
		if p.elig[i] && (best < 0 || p.b[i].outstanding < p.b[best].outstanding) {
			best = i
		}
	}
	if best >= 0 {
		s.next = (best + 1) % n
	}
	return best
}

// PowerOfTwo picks two eligible backends at random and sends the request
// to the one with fewer requests in flight (Mitzenmacher's "power of two
// choices"): nearly as even as least outstanding, without looking at
// every backend and without every balancer herding onto the same one.
func PowerOfTwo() Algorithm { return powerOfTwo{} }

type powerOfTwo struct{}

func (powerOfTwo) init(*Pool) any  { return nil }
func (powerOfTwo) done(*Pool, int) {}
func (powerOfTwo) String() string  { return "p2c" }
func (powerOfTwo) pick(p *Pool, _ string) int {
	var c [2]int
	seen := 0
	// Reservoir-sample two distinct eligible backends in one pass.
	for i := range p.b {
		if !p.elig[i] {
			continue
		}
		seen++
		switch {
		case seen <= 2:
			c[seen-1] = i
		default:
			if j := p.rng.IntN(seen); j < 2 {
				c[j] = i
			}
		}
	}
	switch seen {
	case 0:
		return -1
	case 1:
		return c[0]
	}
	if p.rng.IntN(2) == 0 {
		c[0], c[1] = c[1], c[0]
	}
	if p.b[c[1]].outstanding < p.b[c[0]].outstanding {
		return c[1]
	}
	return c[0]
}

// BoundedHash is consistent hashing with bounded loads (Mirrokni, Thorup
// and Zadimoghaddam): a request goes to the first backend clockwise from
// its key's point on the ring (vnodes points per backend) that has fewer
// than ⌈(1+eps)·(in flight+1)/n⌉ requests in flight. Requests for a key
// stick to one backend, which keeps its caches warm, until that backend
// is overloaded or leaves.
func BoundedHash(eps float64, vnodes int) (Algorithm, error) {
	if !(eps > 0) || vnodes < 1 {
		return nil, fmt.Errorf("balance: bounded hashing needs ε > 0 and at least one virtual node")
	}
	return boundedHash{eps: eps, vnodes: vnodes}, nil
}

type boundedHash struct {
	eps    float64
	vnodes int
}

type bhState struct {
	ring    *hashring.Ring
	bounded *hashring.Bounded
	onRing  []bool
	name    map[string]int
}

func (h boundedHash) String() string { return fmt.Sprintf("bounded-hash(ε=%g)", h.eps) }

func (h boundedHash) init(p *Pool) any {
	s := &bhState{ring: hashring.New(h.vnodes), onRing: make([]bool, len(p.b)), name: map[string]int{}}
	s.bounded, _ = hashring.NewBounded(s.ring, h.eps)
	for i, b := range p.b {
		s.name[b.Name] = i
	}
	return s
}

func (boundedHash) pick(p *Pool, key string) int {
	s := p.algoS.(*bhState)
	// The ring holds exactly the eligible backends, so that the bound is
	// over the backends that can take requests.
	for i, b := range p.b {
		switch {
		case p.elig[i] && !s.onRing[i]:
			s.ring.Add(b.Name)
		case !p.elig[i] && s.onRing[i]:
			s.ring.Remove(b.Name)
		}
		s.onRing[i] = p.elig[i]
	}
	name := s.bounded.Assign(key)
	if name == "" {
		return -1
	}
	return s.name[name]
}

func (boundedHash) done(p *Pool, i int) {
	p.algoS.(*bhState).bounded.Release(p.b[i].Name)
}

// ByName returns the algorithm a front end's flag names: round-robin,
// weighted, least-outstanding, p2c or bounded-hash (ε 0.25, 64 virtual
// nodes).
func ByName(name string) (Algorithm, error) {
	switch name {
	case "round-robin":
		return RoundRobin(), nil
	case "weighted":
		return SmoothWeighted(), nil
	case "least-outstanding":
		return LeastOutstanding(), nil
	case "p2c":
		return PowerOfTwo(), nil
	case "bounded-hash":
		return BoundedHash(0.25, 64)
	}
	return nil, fmt.Errorf("unknown balancing algorithm %q: want round-robin, weighted, least-outstanding, p2c or bounded-hash", name)
}
