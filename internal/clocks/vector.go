package clocks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Order is how two vector timestamps relate.
type Order int

// The four outcomes of comparing vector timestamps a and b.
const (
	Equal      Order = iota // same history
	Before                  // a happened before b
	After                   // b happened before a
	Concurrent              // neither saw the other
)

func (o Order) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Order(%d)", int(o))
}

// Vector is a vector timestamp: for each node id, how many of that node's
// events are in the causal past. A missing entry is zero, so vectors from
// nodes that have not heard of each other still compare. It encodes to
// JSON as an object of node id to counter.
//
// Methods never modify their receiver, so a Vector handed out by a
// VectorClock can be read and shared freely.
type Vector map[string]uint64

// Get returns node's counter, 0 when absent.
func (v Vector) Get(node string) uint64 { return v[node] }

// Clone returns an independent copy.
func (v Vector) Clone() Vector {
	if v == nil {
		return Vector{}
	}
	return maps.Clone(v)
}

// Merge returns the pointwise maximum of v and o: the causal past of an
// event that has seen both.
func (v Vector) Merge(o Vector) Vector {
	out := v.Clone()
	for n, c := range o {
		if c > out[n] {
			out[n] = c
		}
	}
	return out
}

// Compare tells whether v happened before, after, concurrently with, or
// is equal to o. v is before o when every counter of v is at most o's and
// at least one is smaller.
func (v Vector) Compare(o Vector) Order {
	less, greater := false, false
	for n, c := range v {
		if oc := o[n]; c < oc {
			less = true
		} else if c > oc {
			greater = true
		}
	}
	for n, oc := range o {
		if _, ok := v[n]; !ok && oc > 0 {
			less = true
		}
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// String renders the vector with node ids in order, zeros omitted.
func (v Vector) String() string {
	ids := slices.Sorted(maps.Keys(v))
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, id := range ids {
		if v[id] == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		fmt.Fprintf(&b, "%s:%d", id, v[id])
	}
	b.WriteByte('}')
	return b.String()
}

// VectorClock is one node's vector clock. Every method returns a fresh
// Vector that the caller owns.
type VectorClock struct {
	mu   sync.Mutex
	self string
	v    Vector
}

// NewVectorClock returns the clock of node self, with an empty past.
func NewVectorClock(self string) *VectorClock {
	return &VectorClock{self: self, v: Vector{}}
}

// Now returns the current timestamp without recording an event.
func (c *VectorClock) Now() Vector {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v.Clone()
}

// Tick records a local event and returns its timestamp.
func (c *VectorClock) Tick() Vector {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v[c.self]++
	return c.v.Clone()
}

// Send records a send event; the returned timestamp travels with the
// message.
func (c *VectorClock) Send() Vector { return c.Tick() }

// Recv records the receipt of a message stamped remote: the receive event
// follows both the local past and the sender's.
func (c *VectorClock) Recv(remote Vector) Vector {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, rc := range remote {
		if rc > c.v[n] {
			c.v[n] = rc
		}
	}
	c.v[c.self]++
	return c.v.Clone()
}
