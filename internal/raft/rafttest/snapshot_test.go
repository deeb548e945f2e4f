package rafttest_test

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

const snapEvery = 10

func TestSnapshotBasic(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 30, SnapshotEvery: snapEvery})
	for i := range 3 * snapEvery {
		c.One(cmd(i), 3, true)
	}
	for _, n := range c.Nodes {
		if st := n.Raft.Status(); st.FirstIndex < 2*snapEvery {
			t.Fatalf("%s did not compact: first index %d", n.ID, st.FirstIndex)
		}
	}
	if c.Net.Sent[raft.MsgSnap] != 0 {
		t.Fatal("snapshots sent to followers that were never behind")
	}
}

// A follower that misses more than a snapshot's worth of entries gets the
// snapshot, on a reliable and on a lossy network, disconnected or crashed.
func TestSnapshotInstall(t *testing.T) {
	for _, tc := range []struct {
		name              string
		unreliable, crash bool
	}{
		{"disconnect", false, false},
		{"disconnect-unreliable", true, false},
		{"crash", false, true},
		{"crash-unreliable", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 31, SnapshotEvery: snapEvery})
			if tc.unreliable {
				c.Net.Reliable = false
				c.Net.DropRate = 0.1
				c.Net.MaxDelay = 2
			}
			c.One(cmd(-1), 3, true)
			for iter := range 10 {
				victim := other(c.IDs(), c.CheckOneLeader(10*E))
				if iter%3 == 1 {
					victim = c.CheckOneLeader(10 * E) // sometimes the leader
				}
				if tc.crash {
					c.Crash(victim)
				} else {
					c.Net.Disconnect(victim)
				}
				for i := range snapEvery + 1 {
					c.One(cmd(iter*100+i), 2, true)
				}
				if tc.crash {
					c.Restart(victim)
				} else {
					c.Net.Connect(victim)
				}
				c.One(cmd(iter*100+99), 3, true)
			}
			if c.Net.Sent[raft.MsgSnap] == 0 {
				t.Fatal("no snapshot was ever sent")
			}
		})
	}
}

// Restarting from a snapshot: the state machine is restored from it and
// only the entries after it are applied again.
func TestSnapshotRestart(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 32, SnapshotEvery: snapEvery})
	for i := range 25 {
		c.One(cmd(i), 3, true)
	}
	before := map[string]uint64{}
	for _, n := range c.Nodes {
		before[n.ID] = n.Applied()
	}
	crashAll(c)
	restartAll(c)
	for _, n := range c.Nodes {
		st := n.Raft.Status()
		if st.FirstIndex <= 1 {
			t.Fatalf("%s restarted without its snapshot", n.ID)
		}
		// Applied again up to the persisted commit index, no further.
		if n.Applied() < st.FirstIndex-1 {
			t.Fatalf("%s applied %d, snapshot at %d", n.ID, n.Applied(), st.FirstIndex-1)
		}
	}
	idx := c.One(cmd(100), 3, true)
	c.Wait(idx, 3, 0, 10*E)
	for _, n := range c.Nodes {
		if n.Applied() < before[n.ID] {
			t.Fatalf("%s applied %d after restart, %d before", n.ID, n.Applied(), before[n.ID])
		}
	}
}

// Everyone crashes repeatedly while snapshotting.
func TestSnapshotAllCrash(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 33, SnapshotEvery: snapEvery})
	c.One(cmd(-1), 3, true)
	for iter := range 5 {
		n := 4 + c.Rand().IntN(snapEvery)
		for i := range n {
			c.One(cmd(iter*100+i), 3, true)
		}
		idx1 := c.One(cmd(iter*100+99), 3, true)
		crashAll(c)
		restartAll(c)
		idx2 := c.One(cmd(iter*100+98), 3, true)
		if idx2 < idx1+1 {
			t.Fatalf("index decreased from %d to %d", idx1, idx2)
		}
	}
}
