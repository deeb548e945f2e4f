// Package dht is the advanced track's distributed hash table: a Chord
// ring. Nodes and keys hash onto one 64-bit circle (Hash: the first eight
// bytes of SHA-1); a key belongs to the first node at or after it and is
// stored on that node and its r-1 successors. Each node keeps a
// predecessor, a successor list and a finger table (finger i: the first
// node at or after self + 2^i), so that a lookup halves its remaining
// distance at every hop: O(log n) hops. Stabilization (ask the successor
// for its predecessor, notify it), finger repair and re-replication run
// on a timer. Only the failure detector (stabilization pings left
// unanswered) drops a node from the tables; a slow hop is routed around,
// a slow read or write round retried, and every wait follows the round
// trips measured to the peer (rtt.go), so that a slow network does not
// pass for a dead one. An answer naming fewer than r replicas, from a
// node that has lost its successors, is never acknowledged on.
//
// Core is the protocol, free of I/O and wall-clock time: messages go out
// through a Transport, come in through Core.Handle, and Core.Tick runs
// the timers against a Clock, so tests drive a ring of Cores directly.
// Configure is the track's "dht" system (client bodies in the track's
// README). Programs that run on a ring node reach it through Service
// (Attach): Put, Get, GetLocal (this node's own copy) and Owners(key),
// the key's replica set with its owner first, which a scheduler uses to
// run work next to its data. With Config.Durable a node keeps its copies
// in its data directory through internal/storage, so that a node killed
// and restarted serves them again.
package dht
