package rafttest_test

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

func crashAll(c *rafttest.Cluster) {
	for _, id := range c.IDs() {
		c.Crash(id)
	}
}

func restartAll(c *rafttest.Cluster) {
	for _, id := range c.IDs() {
		c.Restart(id)
	}
}

func TestPersist1(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 20})
	c.One(cmd(11), 3, true)
	// Crash and restart everyone: the log survives.
	crashAll(c)
	restartAll(c)
	c.One(cmd(12), 3, true)

	l1 := c.CheckOneLeader(10 * E)
	c.Crash(l1)
	c.Restart(l1)
	c.One(cmd(13), 3, true)

	l2 := c.CheckOneLeader(10 * E)
	c.Crash(l2)
	c.One(cmd(14), 2, true)
	c.Restart(l2)
	c.Wait(4, 3, 0, 10*E) // the restarted node catches up

	f := other(c.IDs(), c.CheckOneLeader(10*E))
	c.Crash(f)
	c.One(cmd(15), 2, true)
	c.Restart(f)
	c.One(cmd(16), 3, true)
	// Every node re-applied everything after its restarts.
	for _, n := range c.Nodes {
		if n.Applied() < 7 {
			t.Fatalf("%s applied only %d entries", n.ID, n.Applied())
		}
	}
}

func TestPersist2(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 21})
	index := 1
	for iters := range 5 {
		c.One(cmd(10+index), 5, true)
		index++
		l1 := c.CheckOneLeader(10 * E)
		f1, f2 := other(c.IDs(), l1), other(c.IDs(), l1, other(c.IDs(), l1))
		c.Crash(f1)
		c.Crash(f2)
		c.One(cmd(10+index), 3, true)
		index++
		others := []string{}
		for _, id := range c.IDs() {
			if id != f1 && id != f2 {
				others = append(others, id)
			}
		}
		c.Crash(others[0])
		c.Crash(others[1])
		c.Crash(others[2])
		c.Restart(f1)
		c.Restart(f2)
		c.Ticks(E)
		c.Restart(others[2])
		c.One(cmd(10+index), 3, true)
		index++
		c.Restart(others[0])
		c.Restart(others[1])
		_ = iters
	}
	c.One(cmd(1000), 5, true)
}

// A leader that crashes with an uncommitted entry, rejoins, and must not
// let that entry survive in place of committed ones.
func TestPersist3(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 22})
	c.One(cmd(101), 3, true)
	l := c.CheckOneLeader(10 * E)
	f := other(c.IDs(), l)
	c.Crash(f)
	c.One(cmd(102), 2, true)
	c.Crash(l)
	c.Restart(f)
	c.Crash(other(c.IDs(), l, f))
	c.Restart(l)
	c.One(cmd(103), 2, true)
	c.Restart(other(c.IDs(), l, f))
	c.One(cmd(104), 3, true)
}

// Figure 8 of the Raft paper: a leader must not commit an entry of an
// earlier term by counting replicas. Leaders crash right after proposing,
// while entries of old terms sit on majorities.
func TestFigure8(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 23})
	c.One(cmd(0), 1, true)
	up := 5
	for iters := range 300 {
		leader := ""
		for _, n := range c.Nodes {
			if n.Up() {
				if _, _, ok := c.Propose(n.ID, cmd(iters)); ok {
					c.Process(n.ID)
					leader = n.ID
				}
			}
		}
		if c.Rand().IntN(1000) < 100 {
			c.Ticks(c.Rand().IntN(E * 5 / 2))
		} else {
			c.Ticks(c.Rand().IntN(2) + 1)
		}
		if leader != "" {
			c.Crash(leader)
			up--
		}
		if up < 3 {
			s := c.IDs()[c.Rand().IntN(5)]
			if !c.Node(s).Up() {
				c.Restart(s)
				up++
			}
		}
	}
	restartAll(c)
	c.One(cmd(10000), 5, true)
}

func TestFigure8Unreliable(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 24})
	c.Net.Reliable = false
	c.Net.DropRate = 0.1
	c.Net.MaxDelay = 2
	c.Net.LongDelayRate = 0.1
	c.Net.LongDelay = 3 * E
	c.One(cmd(0), 1, true)
	nup := 5
	for iters := range 500 {
		if iters == 200 {
			c.Net.LongDelay = 6 * E // long reordering
		}
		leader := ""
		for _, n := range c.Nodes {
			if _, _, ok := c.Propose(n.ID, cmd(iters)); ok && c.Net.IsConnected(n.ID) {
				c.Process(n.ID)
				leader = n.ID
			}
		}
		if c.Rand().IntN(1000) < 100 {
			c.Ticks(c.Rand().IntN(E * 5 / 2))
		} else {
			c.Ticks(c.Rand().IntN(2) + 1)
		}
		if leader != "" && c.Rand().IntN(1000) < E*5 {
			c.Net.Disconnect(leader)
			nup--
		}
		if nup < 3 {
			s := c.IDs()[c.Rand().IntN(5)]
			if !c.Net.IsConnected(s) {
				c.Net.Connect(s)
				nup++
			}
		}
	}
	for _, id := range c.IDs() {
		c.Net.Connect(id)
	}
	c.Net.Reliable = true
	c.One(cmd(10000), 5, true)
}

// Unreliable churn: random crashes, restarts, disconnections and
// concurrent proposals on a lossy, reordering network; afterwards every
// node agrees and the committed log is one log.
func TestUnreliableChurn(t *testing.T) {
	for _, pv := range []bool{false, true} {
		c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 25, PreVote: pv, CheckQuorum: pv, SnapshotEvery: 37})
		c.Net.Reliable = false
		c.Net.DropRate = 0.1
		c.Net.MaxDelay = 3
		c.Net.LongDelayRate = 0.05
		c.Net.LongDelay = 2 * E
		for i := range 2000 {
			for range c.Rand().IntN(3) {
				id := c.IDs()[c.Rand().IntN(5)]
				c.Propose(id, cmd(100000+i))
			}
			c.Tick()
			switch r := c.Rand().IntN(1000); {
			case r < 15:
				c.Crash(c.IDs()[c.Rand().IntN(5)])
			case r < 45:
				c.Restart(c.IDs()[c.Rand().IntN(5)])
			case r < 60:
				c.Net.Disconnect(c.IDs()[c.Rand().IntN(5)])
			case r < 90:
				c.Net.Connect(c.IDs()[c.Rand().IntN(5)])
			}
		}
		restartAll(c)
		for _, id := range c.IDs() {
			c.Net.Connect(id)
		}
		c.Net.Reliable = true
		idx := c.One(cmd(1), 5, true)
		c.Wait(idx, 5, 0, 10*E)
		if idx < 50 {
			t.Fatalf("only %d entries committed under churn", idx)
		}
		t.Logf("prevote=%v: %d entries committed, %d terms with a leader", pv, idx, len(c.Terms()))
	}
}
