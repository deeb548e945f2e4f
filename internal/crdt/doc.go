// Package crdt provides state-based conflict-free replicated data types:
// GCounter, PNCounter, GSet and LWWRegister.
//
// Each replica updates its own state locally and, from time to time, ships
// the whole state to peers, which Merge it in. Merge is a join: commutative,
// associative and idempotent, so replicas converge whatever order, batching
// or duplication of deliveries the network produces — which is why the
// counter track's gossip needs no acknowledgements to be correct, only to
// be fast. States encode to JSON for the wire.
//
// The types are plain values, not safe for concurrent use: a node keeps its
// replica under its own lock, as it would any map.
package crdt
