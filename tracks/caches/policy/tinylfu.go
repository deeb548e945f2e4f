package policy

import (
	"hash/maphash"
	"math/bits"
)

// TinyLFU is W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly
// Efficient Cache Admission Policy", 2017), the policy of Caffeine and, in
// a sampled form, of ristretto. It keeps
//
//   - a frequency sketch: a count-min sketch of every key's recent
//     accesses, cached or not, whose counters are halved after 10×capacity
//     increments so that old popularity fades;
//   - a window LRU (1% of the entries) where new keys start, so that a
//     burst of a new key is not refused before the sketch has seen it;
//   - a main segmented LRU (probation 20%, protected 80%): a key read
//     again while on probation is promoted.
//
// A key pushed out of the window competes with the probation segment's
// LRU victim: the one the sketch says is more frequent stays. That
// admission test is what keeps one-hit wonders from flushing hot keys,
// which plain LRU does on every miss. All operations are O(1).
type TinyLFU[K comparable, V any] struct {
	cap                  int
	windowCap, protCap   int
	items                map[K]*entry[K, V]
	window, prob, protec list[K, V]
	sketch               sketch
	hash                 func(K) uint64
}

// Segments, kept in entry.freq.
const (
	inWindow = iota
	inProbation
	inProtected
)

// NewTinyLFU returns a W-TinyLFU cache of capacity entries; hash spreads
// keys for the sketch (nil: hash/maphash with a per-process seed, which
// makes hit ratios vary slightly from run to run).
func NewTinyLFU[K comparable, V any](capacity int, hash func(K) uint64) *TinyLFU[K, V] {
	capacity = max(capacity, 1)
	if hash == nil {
		seed := maphash.MakeSeed()
		hash = func(k K) uint64 { return maphash.Comparable(seed, k) }
	}
	windowCap := max(1, capacity/100)
	mainCap := capacity - windowCap
	c := &TinyLFU[K, V]{
		cap: capacity, windowCap: windowCap, protCap: mainCap * 8 / 10,
		items: make(map[K]*entry[K, V], capacity), sketch: newSketch(capacity), hash: hash,
	}
	c.window.init()
	c.prob.init()
	c.protec.init()
	return c
}

func (c *TinyLFU[K, V]) Get(key K) (V, bool) {
	c.sketch.add(c.hash(key))
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.hit(e)
	return e.value, true
}

func (c *TinyLFU[K, V]) hit(e *entry[K, V]) {
	switch e.freq {
	case inWindow:
		c.window.moveToFront(e)
	case inProbation:
		c.prob.remove(e)
		e.freq = inProtected
		c.protec.pushFront(e)
		if c.protec.n > c.protCap {
			d := c.protec.back()
			c.protec.remove(d)
			d.freq = inProbation
			c.prob.pushFront(d)
		}
	case inProtected:
		c.protec.moveToFront(e)
	}
}

// Set counts as an access to key (a miss followed by its fill counts
// once, on the Get).
func (c *TinyLFU[K, V]) Set(key K, value V) {
	if e, ok := c.items[key]; ok {
		e.value = value
		c.sketch.add(c.hash(key))
		c.hit(e)
		return
	}
	e := &entry[K, V]{key: key, value: value, freq: inWindow}
	c.items[key] = e
	c.window.pushFront(e)
	if c.window.n <= c.windowCap {
		return
	}
	cand := c.window.back()
	c.window.remove(cand)
	if c.prob.n+c.protec.n < c.cap-c.windowCap {
		cand.freq = inProbation
		c.prob.pushFront(cand)
		return
	}
	victim := c.prob.back()
	if victim == nil {
		victim = c.protec.back()
	}
	if victim == nil { // capacity 1: all window, no main segment
		delete(c.items, cand.key)
		return
	}
	if c.sketch.estimate(c.hash(cand.key)) > c.sketch.estimate(c.hash(victim.key)) {
		c.drop(victim)
		cand.freq = inProbation
		c.prob.pushFront(cand)
		return
	}
	delete(c.items, cand.key)
}

func (c *TinyLFU[K, V]) drop(e *entry[K, V]) {
	c.segment(e).remove(e)
	delete(c.items, e.key)
}

func (c *TinyLFU[K, V]) segment(e *entry[K, V]) *list[K, V] {
	switch e.freq {
	case inWindow:
		return &c.window
	case inProbation:
		return &c.prob
	}
	return &c.protec
}

func (c *TinyLFU[K, V]) Delete(key K) bool {
	e, ok := c.items[key]
	if ok {
		c.drop(e)
	}
	return ok
}

func (c *TinyLFU[K, V]) Len() int { return len(c.items) }

// sketch is a count-min sketch of depth 4 with saturating 4-bit counts
// (held in bytes for simplicity), halved every sample additions.
type sketch struct {
	rows   [4][]uint8
	mask   uint64
	added  int
	sample int
}

func newSketch(capacity int) sketch {
	width := uint64(1) << bits.Len64(uint64(max(capacity, 8))*2-1) // ≥ 2×capacity, a power of two
	var s sketch
	for i := range s.rows {
		s.rows[i] = make([]uint8, width)
	}
	s.mask = width - 1
	s.sample = 10 * capacity
	return s
}

func (s *sketch) index(h uint64, row int) uint64 {
	// Double hashing: row i uses h1 + i·h2.
	h2 := (h >> 32) | 1
	return (h + uint64(row)*h2*0x9e3779b97f4a7c15) & s.mask
}

func (s *sketch) add(h uint64) {
	for i := range s.rows {
		j := s.index(h, i)
		if s.rows[i][j] < 15 {
			s.rows[i][j]++
		}
	}
	s.added++
	if s.added >= s.sample {
		for i := range s.rows {
			for j := range s.rows[i] {
				s.rows[i][j] >>= 1
			}
		}
		s.added /= 2
	}
}

func (s *sketch) estimate(h uint64) uint8 {
	m := uint8(15)
	for i := range s.rows {
		m = min(m, s.rows[i][s.index(h, i)])
	}
	return m
}
