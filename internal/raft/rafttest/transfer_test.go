package rafttest_test

import (
	"errors"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

func TestLeadershipTransfer(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 60, PreVote: true, CheckQuorum: true, LeaseRead: true})
	c.One(cmd(1), 3, true)
	l := c.CheckOneLeader(10 * E)
	term := c.CheckTerms()
	to := other(c.IDs(), l)

	// The target lags behind: the leader catches it up first.
	c.Net.Disconnect(to)
	for i := range 5 {
		c.One(cmd(10+i), 2, true)
	}
	c.Net.Connect(to)
	if err := c.Node(l).Raft.TransferLeadership(to); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Node(l).Raft.Propose(cmd(99)); !errors.Is(err, raft.ErrTransferring) {
		t.Fatalf("proposal during transfer: %v", err)
	}
	c.Process(l)
	c.Ticks(2)
	if got := c.CheckOneLeader(1); got != to {
		t.Fatalf("leader is %s, want %s", got, to)
	}
	if got := c.CheckTerms(); got != term+1 {
		t.Fatalf("term %d after transfer, want %d", got, term+1)
	}
	c.One(cmd(2), 3, true)

	// A transfer to an unreachable peer gives up after an election timeout.
	l = to
	to = other(c.IDs(), l)
	c.Net.Disconnect(to)
	if err := c.Node(l).Raft.TransferLeadership(to); err != nil {
		t.Fatal(err)
	}
	c.Ticks(E + 1)
	if _, _, ok := c.Propose(l, cmd(3)); !ok {
		t.Fatal("leader still refuses proposals after the transfer timed out")
	}
	c.Net.Connect(to)
	c.One(cmd(4), 3, true)
}

// A leader that started a transfer no longer trusts its lease: the
// transferee's forced election overrides the followers' promise not to
// vote, so the old leader could otherwise serve stale reads while it has
// not yet heard of the new term.
func TestTransferEndsLease(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 61, PreVote: true, CheckQuorum: true,
		LeaseRead: true, CountStaleReads: true})
	c.One(cmd(1), 3, true)
	l := c.CheckOneLeader(10 * E)
	to := other(c.IDs(), l)
	c.Tick()         // a fresh lease
	c.Net.Cut(to, l) // the old leader will not hear of the new term from the transferee
	if err := c.Node(l).Raft.TransferLeadership(to); err != nil {
		t.Fatal(err)
	}
	c.Process(l)
	for i := 0; c.Node(to).Raft.Status().Role != raft.Leader; i++ {
		if i > E {
			t.Fatal("transferee did not take over")
		}
		c.Tick()
	}
	c.Propose(to, cmd(2))
	c.Process(to)
	c.Deliver()
	for i := range 3 {
		c.ReadIndex(l, string(cmd(100+i)))
		c.Tick()
	}
	if c.StaleReads > 0 {
		t.Fatalf("%d stale reads from the old leader after a transfer", c.StaleReads)
	}
	c.Net.HealAll()
	c.One(cmd(3), 3, true)
}
