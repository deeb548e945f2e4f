package rafttest_test

import (
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

func cmd(i int) []byte { return fmt.Appendf(nil, "c%d", i) }

func TestBasicAgree(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 10})
	c.CheckOneLeader(10 * E)
	c.Ticks(1)
	last := uint64(len(c.Committed())) // the leader's no-op
	for i := 1; i <= 5; i++ {
		if n, _ := c.NCommitted(last + 1); n > 0 {
			t.Fatal("some node committed before Propose")
		}
		idx := c.One(cmd(i), 3, false)
		if idx <= last {
			t.Fatalf("index %d after %d", idx, last)
		}
		last = idx
	}
}

// Entries stay committed in order on every node, no-ops included, under
// JSON encoding between nodes.
func TestBasicAgreeOverJSON(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 11})
	c.Net.JSON = true
	c.CheckOneLeader(10 * E)
	for i := 1; i <= 20; i++ {
		c.One(cmd(i), 5, false)
	}
}

func TestFailAgree(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 12})
	c.One(cmd(101), 3, false)
	l := c.CheckOneLeader(10 * E)
	f := other(c.IDs(), l)
	c.Net.Disconnect(f)
	// The remaining two agree.
	for i := 102; i <= 105; i++ {
		c.One(cmd(i), 2, false)
	}
	c.Ticks(2 * E)
	// The follower catches up when it returns.
	c.Net.Connect(f)
	c.One(cmd(106), 3, true)
	c.Ticks(2 * E)
	c.One(cmd(107), 3, true)
}

func TestFailNoAgree(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 13})
	c.One(cmd(10), 5, false)
	l := c.CheckOneLeader(10 * E)
	var fs []string
	for _, id := range c.IDs() {
		if id != l && len(fs) < 3 {
			fs = append(fs, id)
		}
	}
	for _, f := range fs {
		c.Net.Disconnect(f)
	}
	idx, _, ok := c.Propose(l, cmd(20))
	if !ok || idx != 3 {
		t.Fatalf("propose at leader: index %d ok %v, want 3", idx, ok)
	}
	c.Ticks(4 * E)
	if n, _ := c.NCommitted(idx); n > 0 {
		t.Fatalf("%d committed without a majority", n)
	}
	for _, f := range fs {
		c.Net.Connect(f)
	}
	l2 := c.CheckOneLeader(10 * E)
	idx2, _, ok := c.Propose(l2, cmd(30))
	if !ok || idx2 < 2 || idx2 > 4 {
		t.Fatalf("unexpected index %d (ok %v)", idx2, ok)
	}
	c.One(cmd(1000), 5, true)
}

func TestConcurrentStarts(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 14})
	l := c.CheckOneLeader(10 * E)
	// Five proposals in the same tick all commit, each once.
	var idxs []uint64
	for i := range 5 {
		idx, _, ok := c.Propose(l, cmd(100+i))
		if !ok {
			t.Fatal("leader refused a proposal")
		}
		idxs = append(idxs, idx)
	}
	for i, idx := range idxs {
		if got := c.Wait(idx, 3, 0, 10*E); string(got) != string(cmd(100+i)) {
			t.Fatalf("index %d holds %q, want %q", idx, got, cmd(100+i))
		}
	}
}

func TestRejoin(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 15})
	c.One(cmd(101), 3, true)
	l1 := c.CheckOneLeader(10 * E)
	c.Net.Disconnect(l1)
	// The old leader accepts entries it can never commit.
	c.Propose(l1, cmd(102))
	c.Propose(l1, cmd(103))
	c.Propose(l1, cmd(104))
	// The others elect a new leader and commit at those indexes.
	c.One(cmd(103), 2, true)
	l2 := c.CheckOneLeader(10 * E)
	c.Net.Disconnect(l2)
	// The old leader returns; it must lose its uncommitted entries.
	c.Net.Connect(l1)
	c.One(cmd(104), 2, true)
	c.Net.Connect(l2)
	c.One(cmd(105), 3, true)
}

// Backup: followers far behind with long divergent tails are brought back
// quickly because rejections skip a term at a time.
func TestBackup(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 5, Seed: 16})
	c.One(cmd(0), 5, true)
	ids := c.IDs()
	l1 := c.CheckOneLeader(10 * E)
	var fs []string // l1's followers
	for _, id := range ids {
		if id != l1 {
			fs = append(fs, id)
		}
	}
	// The leader and one follower: 50 entries that cannot commit.
	for _, id := range fs[1:] {
		c.Net.Disconnect(id)
	}
	for i := range 50 {
		c.Propose(l1, cmd(1000+i))
	}
	c.Ticks(E / 2)
	c.Net.Disconnect(l1)
	c.Net.Disconnect(fs[0])
	// The other three commit 50 entries.
	for _, id := range fs[1:] {
		c.Net.Connect(id)
	}
	for i := range 50 {
		c.One(cmd(2000+i), 3, true)
	}
	// Their leader and one follower: 50 entries that cannot commit.
	l2 := c.CheckOneLeader(10 * E)
	o := other(fs[1:], l2)
	c.Net.Disconnect(o)
	for i := range 50 {
		c.Propose(l2, cmd(3000+i))
	}
	c.Ticks(E / 2)
	// The first pair and the third node of the majority commit 50 more:
	// the pair must discard their 50 stray entries and catch up.
	for _, id := range ids {
		c.Net.Disconnect(id)
	}
	c.Net.Connect(l1)
	c.Net.Connect(fs[0])
	c.Net.Connect(o)
	rejects := c.Net.Rejects
	for i := range 50 {
		c.One(cmd(4000+i), 3, true)
	}
	// Everyone back: the second pair discards its stray entries too.
	for _, id := range ids {
		c.Net.Connect(id)
	}
	c.One(cmd(5000), 5, true)
	// One rejection per divergent term per follower (plus stale ones after
	// leadership changes), where entry-by-entry backup would need ~50 each.
	if got := c.Net.Rejects - rejects; got > 20 {
		t.Fatalf("catching up took %d rejected appends; fast backup needs a few", got)
	}
	t.Logf("rejected appends while catching up four followers: %d", c.Net.Rejects-rejects)
}

// The message cost of agreement is bounded.
func TestCountRPCs(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 17})
	c.CheckOneLeader(10 * E)
	c.Ticks(1)
	total1 := c.Net.TotalSent()
	if total1 > 30 {
		t.Fatalf("too many messages (%d) for an initial election", total1)
	}
	l := c.CheckOneLeader(1)
	// 10 proposals in one tick travel as one batch per follower.
	start := c.Net.Sent[raft.MsgApp]
	var last uint64
	for i := range 10 {
		last, _, _ = c.Propose(l, cmd(i))
	}
	c.Wait(last, 3, 0, E)
	apps := c.Net.Sent[raft.MsgApp] - start
	// One batch plus one commit notice per follower.
	if apps > 2*2 {
		t.Fatalf("%d appends for a batch of 10; want <= 4", apps)
	}
	// One at a time: two appends per follower per agreement (entry, commit).
	start = c.Net.Sent[raft.MsgApp]
	for i := range 10 {
		c.One(cmd(100+i), 3, false)
	}
	if apps := c.Net.Sent[raft.MsgApp] - start; apps > 10*2*2 {
		t.Fatalf("%d appends for 10 sequential agreements; want <= 40", apps)
	}
}

// A slow link (below the election timeout) costs latency, not elections.
func TestSlowLink(t *testing.T) {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 18, PreVote: true, CheckQuorum: true})
	l := c.CheckOneLeader(10 * E)
	term := c.CheckTerms()
	slow := other(c.IDs(), l)
	c.Net.SetLinkDelay(l, slow, 3)
	c.Net.SetLinkDelay(slow, l, 3)
	for i := range 20 {
		c.One(cmd(i), 2, false)
	}
	idx := c.One(cmd(99), 3, false)
	if got := c.CheckTerms(); got != term {
		t.Fatalf("term changed from %d to %d over a slow link", term, got)
	}
	if n, _ := c.NCommitted(idx); n != 3 {
		t.Fatalf("slow follower did not apply %d", idx)
	}
}
