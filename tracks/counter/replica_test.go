package counter

import (
	"fmt"
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/crdt"
	"pgregory.net/rapid"
)

// packet is a gossip message in flight between two replicas: a state, or
// (ack) the acknowledgement of one.
type packet[S any] struct {
	from, to int
	state    S
	ack      bool
}

// cluster drives replicas of one CRDT over a network that the test
// controls completely: it drops, duplicates and reorders at will.
type cluster[T any, S State[T]] struct {
	ids  []string
	reps []*replica[T, S]
	full bool
	net  []packet[S]
}

func newCluster[T any, S State[T]](n int, full bool) *cluster[T, S] {
	c := &cluster[T, S]{full: full}
	for i := range n {
		c.ids = append(c.ids, fmt.Sprintf("n%d", i))
		c.reps = append(c.reps, newReplica[T, S]())
	}
	return c
}

// gossip queues what replica i sends every peer in one round.
func (c *cluster[T, S]) gossip(i int) {
	for j := range c.reps {
		if j == i {
			continue
		}
		if out, ok := c.reps[i].outgoing(c.ids[j], c.full); ok {
			c.net = append(c.net, packet[S]{from: i, to: j, state: out})
		}
	}
}

// deliver hands packet k to its receiver; a state in delta mode is
// answered with an acknowledgement, as the node does.
func (c *cluster[T, S]) deliver(k int, keep bool) {
	p := c.net[k]
	if !keep {
		c.net = slices.Delete(c.net, k, k+1)
	}
	if p.ack {
		c.reps[p.to].acked(c.ids[p.from], p.state)
		return
	}
	c.reps[p.to].receive(c.ids[p.from], p.state)
	if !c.full {
		c.net = append(c.net, packet[S]{from: p.to, to: p.from, state: p.state, ack: true})
	}
}

// round is one gossip round on a healed network: every replica sends,
// everything is delivered, then every acknowledgement. It returns how many
// states were sent.
func (c *cluster[T, S]) round() int {
	c.net = nil
	for i := range c.reps {
		c.gossip(i)
	}
	sent := len(c.net)
	for len(c.net) > 0 {
		c.deliver(0, false)
	}
	return sent
}

// chaos lets a random mix of local updates, gossip rounds and deliveries
// (dropped, duplicated, reordered) happen, checking inv after each step.
func (c *cluster[T, S]) chaos(t *rapid.T, update func(i int), inv func(i int)) {
	for range rapid.IntRange(0, 150).Draw(t, "steps") {
		i := rapid.IntRange(0, len(c.reps)-1).Draw(t, "replica")
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			update(i)
		case 1:
			c.gossip(i)
		case 2:
			if len(c.net) == 0 {
				continue
			}
			k := rapid.IntRange(0, len(c.net)-1).Draw(t, "packet")
			i = c.net[k].to
			c.deliver(k, rapid.Bool().Draw(t, "duplicate"))
		case 3:
			if len(c.net) > 0 {
				k := rapid.IntRange(0, len(c.net)-1).Draw(t, "lost")
				c.net = slices.Delete(c.net, k, k+1) // a partition ate it
			}
		}
		inv(i)
	}
}

// TestCounterNeverLosesAcknowledgedAdds: whatever the network does, a
// replica's value never falls and always counts every add it acknowledged;
// once the network heals, one round makes every replica read the exact
// total, and in delta mode gossip then falls silent.
func TestCounterNeverLosesAcknowledgedAdds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		full := rapid.Bool().Draw(t, "full")
		c := newCluster[crdt.GCounter](rapid.IntRange(2, 4).Draw(t, "replicas"), full)
		acked := make([]uint64, len(c.reps))
		last := make([]uint64, len(c.reps))
		var total uint64
		c.chaos(t, func(i int) {
			d := rapid.Uint64Range(0, 4).Draw(t, "delta")
			c.reps[i].state.Increment(c.ids[i], d)
			acked[i] += d
			total += d
		}, func(i int) {
			v := c.reps[i].state.Value()
			if v < last[i] {
				t.Fatalf("replica %d fell from %d to %d", i, last[i], v)
			}
			if v < acked[i] {
				t.Fatalf("replica %d reads %d, below the %d it acknowledged", i, v, acked[i])
			}
			last[i] = v
		})
		c.round()
		for i, r := range c.reps {
			if r.state.Value() != total {
				t.Fatalf("after one healed round replica %d reads %d, want %d", i, r.state.Value(), total)
			}
		}
		checkQuiet(t, c)
	})
}

// TestPNCounterAndGSetConverge: the same for the other two CRDTs. A
// PN-counter may go down, so only its convergence to the exact total is
// checked; a set replica never loses an element it acknowledged, and all
// end up holding every element added anywhere.
func TestPNCounterAndGSetConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		full := rapid.Bool().Draw(t, "full")
		n := rapid.IntRange(2, 4).Draw(t, "replicas")
		pn := newCluster[crdt.PNCounter](n, full)
		var total int64
		pn.chaos(t, func(i int) {
			d := rapid.Int64Range(-5, 4).Draw(t, "delta")
			pn.reps[i].state.Increment(pn.ids[i], d)
			total += d
		}, func(int) {})
		pn.round()
		for i, r := range pn.reps {
			if r.state.Value() != total {
				t.Fatalf("pn: after one healed round replica %d reads %d, want %d", i, r.state.Value(), total)
			}
		}
		checkQuiet(t, pn)

		gs := newCluster[crdt.GSet[int64]](n, full)
		var added []int64
		own := make([][]int64, n) // elements each replica acknowledged
		gs.chaos(t, func(i int) {
			e := int64(len(added))
			gs.reps[i].state.Add(e)
			added = append(added, e)
			own[i] = append(own[i], e)
		}, func(i int) {
			for _, e := range own[i] {
				if !gs.reps[i].state.Contains(e) {
					t.Fatalf("g-set: replica %d lost its own element %d", i, e)
				}
			}
		})
		gs.round()
		for i, r := range gs.reps {
			if !slices.Equal(r.state.Elements(), added) && !(len(added) == 0 && r.state.Len() == 0) {
				t.Fatalf("g-set: after one healed round replica %d holds %v, want %v", i, r.state.Elements(), added)
			}
		}
		checkQuiet(t, gs)
	})
}

// checkQuiet: in delta mode, two more healed rounds settle every
// acknowledgement, after which an idle cluster sends nothing at all.
func checkQuiet[T any, S State[T]](t *rapid.T, c *cluster[T, S]) {
	if c.full {
		return
	}
	c.round()
	c.round()
	if sent := c.round(); sent != 0 {
		t.Fatalf("an idle, converged cluster still sends %d deltas per round", sent)
	}
}
