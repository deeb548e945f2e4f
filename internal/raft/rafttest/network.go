// Package rafttest runs a Raft cluster inside one process for tests: nodes
// on a simulated network that can drop, delay, reorder and partition
// messages, crash and restart with their storage, all driven by ticks from
// a seeded random source, so that a failing run replays from its seed.
// While it runs, the cluster checks Raft's safety properties after every
// step (see Cluster) and fails the test at the first violation.
package rafttest

import (
	"container/heap"
	"encoding/json"
	"math/rand/v2"

	"github.com/distsys-curriculum/distsys/internal/raft"
)

// Network is the simulated network between a cluster's nodes. Faults are
// decided when a message is sent (drop, delay) and checked again when it is
// delivered (partitions, crashed nodes), as on a real network.
type Network struct {
	rand *rand.Rand
	now  uint64
	seq  uint64
	q    msgQueue

	connected map[string]bool      // node-level: a disconnected node can neither send nor receive
	cut       map[[2]string]bool   // per directed link
	linkDelay map[[2]string]uint64 // extra per-link delay

	// Reliable networks deliver every message after MinDelay ticks.
	// Unreliable ones drop DropRate of them and delay the rest by
	// MinDelay..MaxDelay ticks, which also reorders them.
	Reliable      bool
	DropRate      float64
	MinDelay      uint64
	MaxDelay      uint64
	LongDelayRate float64 // unreliable only: fraction delayed by up to LongDelay
	LongDelay     uint64
	// JSON sends every message through encoding/json, as between processes.
	JSON bool

	// Sent counts messages handed to the network by type, Delivered those
	// that reached a live node.
	Sent      map[raft.MessageType]int
	Delivered int
	Dropped   int
	// Rejects counts rejected appends sent (log mismatches found).
	Rejects int
}

func newNetwork(r *rand.Rand) *Network {
	return &Network{
		rand: r, Reliable: true,
		connected: map[string]bool{}, cut: map[[2]string]bool{}, linkDelay: map[[2]string]uint64{},
		Sent: map[raft.MessageType]int{},
	}
}

type envelope struct {
	at, seq uint64
	m       raft.Message
}

type msgQueue []envelope

func (q msgQueue) Len() int { return len(q) }
func (q msgQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q msgQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *msgQueue) Push(x any)   { *q = append(*q, x.(envelope)) }
func (q *msgQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (n *Network) linkUp(from, to string) bool {
	return n.connected[from] && n.connected[to] && !n.cut[[2]string{from, to}]
}

// Connect and Disconnect attach or detach a node from the network.
func (n *Network) Connect(id string)    { n.connected[id] = true }
func (n *Network) Disconnect(id string) { n.connected[id] = false }

// IsConnected reports whether id is attached.
func (n *Network) IsConnected(id string) bool { return n.connected[id] }

// Cut blocks messages from -> to (one direction); Heal unblocks them.
func (n *Network) Cut(from, to string)  { n.cut[[2]string{from, to}] = true }
func (n *Network) Heal(from, to string) { delete(n.cut, [2]string{from, to}) }

// Partition leaves every node connected but cuts all links between groups.
func (n *Network) Partition(groups ...[]string) {
	clear(n.cut)
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					n.cut[[2]string{a, b}] = true
				}
			}
		}
	}
}

// HealAll removes every cut link.
func (n *Network) HealAll() { clear(n.cut) }

// SetLinkDelay adds d ticks to every message from -> to.
func (n *Network) SetLinkDelay(from, to string, d uint64) { n.linkDelay[[2]string{from, to}] = d }

func (n *Network) send(m raft.Message) {
	n.Sent[m.Type]++
	if m.Type == raft.MsgAppResp && m.Reject {
		n.Rejects++
	}
	if !n.linkUp(m.From, m.To) {
		n.Dropped++
		return
	}
	delay := n.MinDelay
	if !n.Reliable {
		if n.rand.Float64() < n.DropRate {
			n.Dropped++
			return
		}
		if n.MaxDelay > n.MinDelay {
			delay += n.rand.Uint64N(n.MaxDelay - n.MinDelay + 1)
		}
		if n.LongDelay > 0 && n.rand.Float64() < n.LongDelayRate {
			delay += n.rand.Uint64N(n.LongDelay + 1)
		}
	}
	delay += n.linkDelay[[2]string{m.From, m.To}]
	if n.JSON {
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		m = raft.Message{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err)
		}
	}
	n.seq++
	heap.Push(&n.q, envelope{at: n.now + delay, seq: n.seq, m: m})
}

// next pops the next message due by now, if any.
func (n *Network) next() (raft.Message, bool) {
	for n.q.Len() > 0 && n.q[0].at <= n.now {
		e := heap.Pop(&n.q).(envelope)
		if !n.linkUp(e.m.From, e.m.To) {
			n.Dropped++
			continue
		}
		return e.m, true
	}
	return raft.Message{}, false
}

// Pending is the number of messages in flight.
func (n *Network) Pending() int { return n.q.Len() }

// TotalSent is the number of messages sent of all types.
func (n *Network) TotalSent() int {
	t := 0
	for _, c := range n.Sent {
		t += c
	}
	return t
}
