// Package hashring is consistent hashing with virtual nodes, and its
// bounded-load variant (Mirrokni, Thorup and Zadimoghaddam, "Consistent
// Hashing with Bounded Loads", 2017).
//
// A Ring places each node at many points ("virtual nodes") on a 64-bit
// circle; a key belongs to the first point clockwise from the key's hash.
// Adding or removing a node moves only the keys next to its points, about
// 1/n of them, and more points per node even out how many keys each node
// gets. Bounded caps every node at ⌈(1+ε)·average⌉ assignments: a key whose
// owner is full walks on clockwise to the next node with room. It serves
// both placements that live forever (keys to cache shards) and ones that
// end (requests to backends: Release when done).
//
// The caches track shards its cache with a Ring; the loadbalancers and
// sharder tracks reuse both types. Neither is safe for concurrent use:
// each holder serialises its own calls.
package hashring

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Hash is the ring's hash function: FNV-1a followed by a 64-bit avalanche
// (the finaliser of SplitMix64), so that keys differing only in their last
// character land far apart on the circle.
func Hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

type point struct {
	hash uint64
	node string
}

// Ring is a consistent-hash ring with VirtualNodes points per node.
type Ring struct {
	vnodes int
	points []point // sorted by hash, then node (ties are vanishingly rare)
	nodes  []string
}

// New returns an empty ring with vnodes points per node (at least 1).
func New(vnodes int) *Ring {
	return &Ring{vnodes: max(vnodes, 1)}
}

// VirtualNodes is the number of points per node.
func (r *Ring) VirtualNodes() int { return r.vnodes }

// Add places nodes on the ring; a node already there is left alone.
func (r *Ring) Add(nodes ...string) {
	for _, n := range nodes {
		if slices.Contains(r.nodes, n) {
			continue
		}
		r.nodes = append(r.nodes, n)
		for i := range r.vnodes {
			r.points = append(r.points, point{Hash(n + "#" + strconv.Itoa(i)), n})
		}
	}
	slices.Sort(r.nodes)
	slices.SortFunc(r.points, func(a, b point) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		if a.node < b.node {
			return -1
		} else if a.node > b.node {
			return 1
		}
		return 0
	})
}

// Remove takes a node off the ring.
func (r *Ring) Remove(node string) {
	r.nodes = slices.DeleteFunc(r.nodes, func(n string) bool { return n == node })
	r.points = slices.DeleteFunc(r.points, func(p point) bool { return p.node == node })
}

// Nodes lists the nodes on the ring, sorted.
func (r *Ring) Nodes() []string { return slices.Clone(r.nodes) }

// Len is the number of nodes.
func (r *Ring) Len() int { return len(r.nodes) }

// first is the index of the first point at or after h, wrapping around.
func (r *Ring) first(h uint64) int {
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].hash >= h })
	if i == len(r.points) {
		i = 0
	}
	return i
}

// Get returns the node that owns key, or "" on an empty ring.
func (r *Ring) Get(key string) string {
	if len(r.points) == 0 {
		return ""
	}
	return r.points[r.first(Hash(key))].node
}

// GetN returns up to n distinct nodes in ring order from key's position:
// the owner first, then the nodes a replica or a fallback would go to.
func (r *Ring) GetN(key string, n int) []string {
	n = min(n, len(r.nodes))
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	r.walk(key, func(node string) bool {
		if !slices.Contains(out, node) {
			out = append(out, node)
		}
		return len(out) < n
	})
	return out
}

// walk calls f with the node of each point clockwise from key's hash,
// once around the ring, until f returns false.
func (r *Ring) walk(key string, f func(node string) bool) {
	if len(r.points) == 0 {
		return
	}
	start := r.first(Hash(key))
	for i := range r.points {
		if !f(r.points[(start+i)%len(r.points)].node) {
			return
		}
	}
}

// Bounded assigns keys on a Ring so that no node holds more than
// ⌈(1+ε)·(assigned+1)/n⌉ of them at the moment it is chosen.
type Bounded struct {
	ring  *Ring
	eps   float64
	load  map[string]int
	total int
}

// NewBounded wraps ring with load bound factor 1+eps (eps > 0: the paper's
// ε; 0.25 keeps every node within 25% of the average).
func NewBounded(ring *Ring, eps float64) (*Bounded, error) {
	if !(eps > 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("hashring: load bound ε must be a positive number, got %v", eps)
	}
	return &Bounded{ring: ring, eps: eps, load: map[string]int{}}, nil
}

// Capacity is the most any node may hold once one more key is assigned.
func (b *Bounded) Capacity() int {
	n := b.ring.Len()
	if n == 0 {
		return 0
	}
	return int(math.Ceil((1 + b.eps) * float64(b.total+1) / float64(n)))
}

// Assign picks key's node, the first one clockwise from the key with room
// under Capacity, and counts the key against it. It returns "" on an empty
// ring.
func (b *Bounded) Assign(key string) string {
	c := b.Capacity()
	chosen := ""
	b.ring.walk(key, func(node string) bool {
		if b.load[node] < c {
			chosen = node
			return false
		}
		return true
	})
	if chosen != "" {
		b.load[chosen]++
		b.total++
	}
	return chosen
}

// Release returns one assignment of node (a finished request).
func (b *Bounded) Release(node string) {
	if b.load[node] > 0 {
		b.load[node]--
		b.total--
	}
}

// Load is node's current number of assignments.
func (b *Bounded) Load(node string) int { return b.load[node] }

// Total is the number of assignments held.
func (b *Bounded) Total() int { return b.total }
