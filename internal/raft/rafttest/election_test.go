package rafttest_test

import (
	"maps"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

// E is the election timeout used by the scenarios, in ticks.
const E = 10

func TestInitialElection(t *testing.T) {
	for _, pv := range []bool{false, true} {
		c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 1, PreVote: pv, CheckQuorum: pv})
		c.CheckOneLeader(10 * E)
		term1 := c.CheckTerms()
		if term1 < 1 {
			t.Fatalf("term is %d, want >= 1", term1)
		}
		// No elections while the network is healthy.
		c.Ticks(50 * E)
		if term2 := c.CheckTerms(); term1 != term2 {
			t.Fatalf("term changed from %d to %d with no failures", term1, term2)
		}
		c.CheckOneLeader(1)
	}
}

func TestReElection(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 2})
	l1 := c.CheckOneLeader(10 * E)

	// If the leader disconnects, a new one is elected.
	c.Net.Disconnect(l1)
	c.CheckOneLeader(10 * E)

	// The old leader rejoining does not disturb the new one.
	c.Net.Connect(l1)
	l2 := c.CheckOneLeader(10 * E)

	// Without a quorum there is no leader.
	c.Net.Disconnect(l2)
	c.Net.Disconnect(other(c.IDs(), l2))
	c.Ticks(4 * E)
	c.CheckNoLeader()

	// With a quorum again, there is.
	c.Net.Connect(other(c.IDs(), l2))
	c.CheckOneLeader(10 * E)
	c.Net.Connect(l2)
	c.CheckOneLeader(10 * E)
}

func other(ids []string, not ...string) string {
	for _, id := range ids {
		skip := false
		for _, n := range not {
			skip = skip || n == id
		}
		if !skip {
			return id
		}
	}
	return ""
}

func TestManyElections(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 7, Seed: 3})
	c.CheckOneLeader(10 * E)
	ids := c.IDs()
	for range 10 {
		// Disconnect three nodes; four remain, a quorum of seven.
		perm := c.Rand().Perm(len(ids))
		for _, i := range perm[:3] {
			c.Net.Disconnect(ids[i])
		}
		c.CheckOneLeader(10 * E)
		for _, i := range perm[:3] {
			c.Net.Connect(ids[i])
		}
	}
	c.CheckOneLeader(10 * E)
}

// A node cut off from the others keeps campaigning; with pre-vote its term
// stays put, so its return does not depose a healthy leader.
func TestPreVoteNoTermInflation(t *testing.T) {
	for _, pv := range []bool{false, true} {
		c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 4, PreVote: pv, CheckQuorum: pv})
		l := c.CheckOneLeader(10 * E)
		term := c.CheckTerms()
		loner := other(c.IDs(), l)
		c.Net.Disconnect(loner)
		c.Ticks(20 * E)
		got := c.Node(loner).Raft.Status().Term
		if pv && got != term {
			t.Fatalf("pre-vote: isolated node's term went from %d to %d", term, got)
		}
		if !pv && got <= term {
			t.Fatalf("without pre-vote the isolated node should inflate its term; got %d, leader's %d", got, term)
		}
		c.Net.Connect(loner)
		c.Ticks(5 * E)
		l2 := c.CheckOneLeader(10 * E)
		if pv && (l2 != l || c.CheckTerms() != term) {
			t.Fatalf("pre-vote: rejoining node disrupted the leader: %s term %d -> %s term %d", l, term, l2, c.CheckTerms())
		}
	}
}

// With check-quorum a leader that loses its majority steps down; without
// it, it stays a (useless) leader.
func TestCheckQuorumStepDown(t *testing.T) {
	for _, cq := range []bool{false, true} {
		c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 5, CheckQuorum: cq, PreVote: true})
		l := c.CheckOneLeader(10 * E)
		var others []string
		for _, id := range c.IDs() {
			if id != l {
				others = append(others, id)
			}
		}
		c.Net.Partition([]string{l}, others)
		c.Ticks(3 * E)
		role := c.Node(l).Raft.Status().Role
		if cq && role == raft.Leader {
			t.Fatalf("check-quorum: isolated leader %s still leads", l)
		}
		if !cq && role != raft.Leader {
			t.Fatalf("without check-quorum the isolated leader should not notice; it is %v", role)
		}
		c.Net.HealAll()
		c.CheckOneLeader(10 * E)
	}
}

// The message cost of an election and of idling is bounded.
func TestCountElectionMessages(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 6})
	c.CheckOneLeader(10 * E)
	c.Ticks(1)
	sent := maps.Clone(c.Net.Sent)
	votes := sent[raft.MsgVote] + sent[raft.MsgVoteResp]
	if votes > 20 {
		t.Fatalf("too many vote messages for an election: %d", votes)
	}
	before := c.Net.TotalSent()
	c.Ticks(100)
	// Two followers, one heartbeat and one response each per tick.
	if got := c.Net.TotalSent() - before; got > 100*4 {
		t.Fatalf("idle cluster sent %d messages in 100 ticks, want <= 400", got)
	}
	if c.Net.Sent[raft.MsgVote] != sent[raft.MsgVote] {
		t.Fatal("election while healthy")
	}
}
