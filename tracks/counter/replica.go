package counter

// State is what a CRDT stage replicates: a state-based CRDT from
// internal/crdt (GCounter, PNCounter, GSet) used through its pointer.
type State[T any] interface {
	*T
	Merge(o *T)
	Clone() *T
	Equal(o *T) bool
	Delta(o *T) *T
	IsZero() bool
}

// replica is one node's copy of a CRDT and, per peer, a state that peer is
// known to hold. It does no I/O and keeps no clock, so the gossip protocol
// can be tested as a plain state machine; the node glue in crdt.go moves
// its messages and calls it from one lock.
//
// The record of a peer only ever grows, from two kinds of evidence: what
// the peer sent us (it had it), and what the peer acknowledged (it merged
// it). Both are lower bounds, so a delta computed against the record may
// repeat what the peer already has, but never omits what it lacks.
type replica[T any, S State[T]] struct {
	state S
	known map[string]S
}

// newReplica returns an empty replica; peers are recorded as they appear.
func newReplica[T any, S State[T]]() *replica[T, S] {
	return &replica[T, S]{state: S(new(T)), known: make(map[string]S)}
}

// outgoing returns what to send peer this round, or false for nothing.
// With full it is the whole state, every round: plain anti-entropy, which
// needs no acknowledgements because a lost message is replaced by the
// next. Otherwise it is the delta the peer is not known to have, resent
// every round until acknowledged: nothing once the peer has caught up.
func (r *replica[T, S]) outgoing(peer string, full bool) (S, bool) {
	if full {
		return S(r.state.Clone()), true
	}
	k, ok := r.known[peer]
	if !ok {
		k = S(new(T))
		r.known[peer] = k
	}
	d := S(r.state.Delta(k))
	return d, !d.IsZero()
}

// receive merges a state (delta or full) sent by peer.
func (r *replica[T, S]) receive(peer string, s S) {
	r.state.Merge(s)
	if k, ok := r.known[peer]; ok {
		k.Merge(s)
	} else {
		r.known[peer] = S(s.Clone())
	}
}

// acked records that peer merged s.
func (r *replica[T, S]) acked(peer string, s S) {
	if k, ok := r.known[peer]; ok {
		k.Merge(s)
	} else {
		r.known[peer] = S(s.Clone())
	}
}
