package crdt

import (
	"cmp"

	"github.com/distsys-curriculum/distsys/internal/clocks"
)

// LWWRegister is a last-writer-wins register: each write carries an HLC
// timestamp and the writing node's id, and merge keeps the write with the
// larger (timestamp, node) pair. The node id breaks ties between writes
// stamped identically on different nodes, so every replica picks the same
// winner. Concurrent writes other than the winner are discarded — that is
// the price of a register that always converges. The zero value is unset.
type LWWRegister[T any] struct {
	Value T                `json:"value"`
	TS    clocks.Timestamp `json:"ts"`
	Node  string           `json:"node"`
	Set   bool             `json:"set"`
}

// Write sets the value if (ts, node) is after the current write, and
// reports whether it did. A node must never stamp two different writes
// with the same timestamp (an HLC never repeats one); if it did, replicas
// could keep different values for the same write and never converge.
func (r *LWWRegister[T]) Write(v T, ts clocks.Timestamp, node string) bool {
	if r.Set && r.order(ts, node) <= 0 {
		return false
	}
	*r = LWWRegister[T]{Value: v, TS: ts, Node: node, Set: true}
	return true
}

// Get returns the value and whether any write has been seen.
func (r *LWWRegister[T]) Get() (T, bool) { return r.Value, r.Set }

// Merge keeps the later of the two writes.
func (r *LWWRegister[T]) Merge(o *LWWRegister[T]) {
	if o.Set {
		r.Write(o.Value, o.TS, o.Node)
	}
}

// order compares (ts, node) with the register's current write.
func (r *LWWRegister[T]) order(ts clocks.Timestamp, node string) int {
	if c := ts.Compare(r.TS); c != 0 {
		return c
	}
	return cmp.Compare(node, r.Node)
}
