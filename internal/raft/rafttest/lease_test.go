package rafttest_test

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

// leaseScenario: a leader holding a fresh lease is cut off from its
// followers, whose clocks run at rate num/den of the leader's; they elect
// a new leader which commits a write; meanwhile the old leader keeps
// answering lease reads. It returns how many reads were stale.
func leaseScenario(t *testing.T, num, den uint64) int {
	c := rafttest.New(t, rafttest.Options{Nodes: 3, Seed: 50, PreVote: true, CheckQuorum: true,
		LeaseRead: true, CountStaleReads: true})
	c.One(cmd(1), 3, true)
	old := c.CheckOneLeader(10 * E)
	var others []string
	for _, id := range c.IDs() {
		if id != old {
			others = append(others, id)
			c.SetClockRate(id, num, den)
		}
	}
	c.Tick() // a heartbeat round renews the lease
	c.Net.Partition([]string{old}, others)
	for i := range 3 * E {
		// Keep writing on the majority side and reading on the old leader.
		for _, id := range others {
			if _, _, ok := c.Propose(id, cmd(100+i)); ok {
				c.Process(id)
			}
		}
		c.ReadIndex(old, string(cmd(1000+i)))
		c.Tick()
	}
	c.Net.HealAll()
	c.One(cmd(2), 3, true)
	t.Logf("followers' clocks at %d/%d: %d reads answered, %d stale", num, den, c.ReadsServed, c.StaleReads)
	return c.StaleReads
}

// With clocks in step (or drifting within the lease margin) lease reads
// are never stale; with followers' clocks running 3x fast they are: the
// lease rests on bounded drift.
func TestLeaseReadsNeedBoundedDrift(t *testing.T) {
	for _, tc := range []struct {
		num, den  uint64
		wantStale bool
	}{
		{1, 1, false},
		{11, 10, false}, // 10% fast, margin is 20% of E
		{3, 1, true},
	} {
		stale := leaseScenario(t, tc.num, tc.den)
		if (stale > 0) != tc.wantStale {
			t.Errorf("followers' clocks at %d/%d: %d stale reads, want stale=%v", tc.num, tc.den, stale, tc.wantStale)
		}
	}
}
