package crdt

import (
	"encoding/json"
	"maps"
)

// GCounter is a grow-only counter: one monotonically growing count per
// node, and a value that is their sum. A node increments only its own
// entry, so merging by taking each entry's maximum never double-counts
// and never loses an increment. The zero value is an empty counter.
type GCounter struct {
	counts map[string]uint64
}

// NewGCounter returns an empty counter.
func NewGCounter() *GCounter { return &GCounter{} }

// Increment adds delta to node's entry. Only node itself may call it for
// its own id; a replica incrementing another node's entry would race with
// that node and lose increments on merge.
func (c *GCounter) Increment(node string, delta uint64) {
	if delta == 0 {
		return
	}
	if c.counts == nil {
		c.counts = make(map[string]uint64)
	}
	c.counts[node] += delta
}

// Get returns node's entry.
func (c *GCounter) Get(node string) uint64 { return c.counts[node] }

// Value returns the sum of all entries.
func (c *GCounter) Value() uint64 {
	var sum uint64
	for _, n := range c.counts {
		sum += n
	}
	return sum
}

// Merge folds o into c: each entry becomes the larger of the two.
func (c *GCounter) Merge(o *GCounter) {
	for node, n := range o.counts {
		if n > c.counts[node] {
			if c.counts == nil {
				c.counts = make(map[string]uint64)
			}
			c.counts[node] = n
		}
	}
}

// Clone returns an independent copy.
func (c *GCounter) Clone() *GCounter { return &GCounter{counts: maps.Clone(c.counts)} }

// Equal reports whether both hold the same state.
func (c *GCounter) Equal(o *GCounter) bool {
	for node, n := range c.counts {
		if o.counts[node] != n {
			return false
		}
	}
	for node, n := range o.counts {
		if c.counts[node] != n {
			return false
		}
	}
	return true
}

// MarshalJSON encodes the state as an object of node id to count.
func (c *GCounter) MarshalJSON() ([]byte, error) {
	if c.counts == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(c.counts)
}

// UnmarshalJSON replaces the state with an encoded one.
func (c *GCounter) UnmarshalJSON(b []byte) error {
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	maps.DeleteFunc(m, func(_ string, n uint64) bool { return n == 0 })
	c.counts = m
	return nil
}

// PNCounter is a counter that can go down: two GCounters, one for
// increments and one for decrements, whose difference is the value. The
// zero value is an empty counter.
type PNCounter struct {
	P GCounter `json:"p"`
	N GCounter `json:"n"`
}

// NewPNCounter returns an empty counter.
func NewPNCounter() *PNCounter { return &PNCounter{} }

// Increment adds delta (which may be negative) on behalf of node.
func (c *PNCounter) Increment(node string, delta int64) {
	if delta >= 0 {
		c.P.Increment(node, uint64(delta))
	} else {
		c.N.Increment(node, uint64(-(delta+1))+1) // no overflow at MinInt64
	}
}

// Value returns increments minus decrements.
func (c *PNCounter) Value() int64 { return int64(c.P.Value() - c.N.Value()) }

// Merge folds o into c.
func (c *PNCounter) Merge(o *PNCounter) {
	c.P.Merge(&o.P)
	c.N.Merge(&o.N)
}

// Clone returns an independent copy.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{P: *c.P.Clone(), N: *c.N.Clone()}
}

// Equal reports whether both hold the same state.
func (c *PNCounter) Equal(o *PNCounter) bool { return c.P.Equal(&o.P) && c.N.Equal(&o.N) }
