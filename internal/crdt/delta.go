package crdt

// Delta-state replication: instead of shipping its whole state, a replica
// ships Delta(known), the part of its state a peer is not known to have.
// The peer merges the delta exactly as it would merge a full state, because
// a delta is itself a state of the same type; so for every c and o,
//
//	o ⊔ c.Delta(o) = o ⊔ c   and   c.Delta(o) ⊑ c.
//
// A sender that learns (from an acknowledgement) that the peer merged the
// delta merges it into its record of the peer too; once that record covers
// its own state, Delta is empty and gossip to that peer falls silent until
// something new happens.

// Delta returns the entries of c that are larger than in o: merging the
// result into o gives the same state as merging c into o.
func (c *GCounter) Delta(o *GCounter) *GCounter {
	d := &GCounter{}
	for node, n := range c.counts {
		if n > o.counts[node] {
			if d.counts == nil {
				d.counts = make(map[string]uint64)
			}
			d.counts[node] = n
		}
	}
	return d
}

// IsZero reports whether c holds no increments (the bottom state).
func (c *GCounter) IsZero() bool { return len(c.counts) == 0 }

// Delta returns the part of c that o lacks, per component.
func (c *PNCounter) Delta(o *PNCounter) *PNCounter {
	return &PNCounter{P: *c.P.Delta(&o.P), N: *c.N.Delta(&o.N)}
}

// IsZero reports whether c holds neither increments nor decrements.
func (c *PNCounter) IsZero() bool { return c.P.IsZero() && c.N.IsZero() }

// Delta returns the elements of s that o lacks, as a set.
func (s *GSet[T]) Delta(o *GSet[T]) *GSet[T] { return NewGSet(s.Missing(o)...) }

// IsZero reports whether s is empty.
func (s *GSet[T]) IsZero() bool { return len(s.elems) == 0 }
