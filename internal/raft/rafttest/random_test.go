package rafttest_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft/rafttest"
)

// Randomized schedules: for each seed, a random configuration and a
// random sequence of partitions, crashes, restarts, lossy periods,
// proposals and reads, with the cluster's safety checks (and the read
// check) running throughout; at the end the network heals and the cluster
// must make progress. A failure names its seed, which replays it exactly:
//
//	go test ./internal/raft/rafttest -run 'RandomSchedules/seed=17$'
//	go test ./internal/raft/rafttest -run RandomSchedules -seeds 1000   # hunt
var (
	seeds     = flag.Int("seeds", 24, "number of random schedules in TestRandomSchedules")
	firstSeed = flag.Uint64("first-seed", 0, "first seed of TestRandomSchedules")
)

func TestRandomSchedules(t *testing.T) {
	n := *seeds
	if testing.Short() {
		n = min(n, 6)
	}
	for seed := *firstSeed; seed < *firstSeed+uint64(n); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runSchedule(t, seed)
		})
	}
}

func runSchedule(t *testing.T, seed uint64) *rafttest.Cluster {
	pick := rand.New(rand.NewPCG(seed, 0x0b7)) // chooses the configuration
	nodes := []int{3, 5, 7}[pick.IntN(3)]
	pv := pick.IntN(2) == 0
	cq := pv || pick.IntN(2) == 0
	lease := cq && pick.IntN(2) == 0
	opts := rafttest.Options{
		Nodes: nodes, Seed: seed, PreVote: pv, CheckQuorum: cq, LeaseRead: lease,
		ElectionTicks: []int{5, 10, 20}[pick.IntN(3)], HeartbeatTicks: 1 + pick.IntN(2),
		SnapshotEvery: []uint64{0, 5, 23}[pick.IntN(3)],
		MaxInflight:   []int{1, 4, 256}[pick.IntN(3)],
		MaxBatch:      []int{1, 3, 64}[pick.IntN(3)],
	}
	c := rafttest.New(t, opts)
	e := opts.ElectionTicks
	t.Logf("options %+v", opts)
	ids := c.IDs()
	r := c.Rand()
	// Clocks drift by up to 5% either way: within the lease margin.
	for _, id := range ids {
		c.SetClockRate(id, uint64(19+r.IntN(3)), 20)
	}
	reads := 0
	for tick := range 1500 {
		switch x := r.IntN(1000); {
		case x < 10:
			// A random split into two groups.
			var a, b []string
			for _, id := range ids {
				if r.IntN(2) == 0 {
					a = append(a, id)
				} else {
					b = append(b, id)
				}
			}
			c.Net.Partition(a, b)
		case x < 20:
			c.Net.HealAll()
		case x < 28:
			c.Crash(ids[r.IntN(nodes)])
		case x < 45:
			c.Restart(ids[r.IntN(nodes)])
		case x < 50:
			c.Net.Reliable = !c.Net.Reliable
			c.Net.DropRate = r.Float64() * 0.3
			c.Net.MaxDelay = uint64(r.IntN(4))
			c.Net.LongDelayRate = 0.05
			c.Net.LongDelay = uint64(r.IntN(3 * e))
		case x < 55:
			c.Net.Cut(ids[r.IntN(nodes)], ids[r.IntN(nodes)])
		case x < 60:
			for _, l := range c.Leaders() {
				c.Node(l).Raft.TransferLeadership(ids[r.IntN(nodes)])
				c.Process(l)
			}
		}
		for _, id := range ids {
			if r.IntN(4) == 0 {
				c.Propose(id, fmt.Appendf(nil, "s%d-%d-%s", seed, tick, id))
			}
			if r.IntN(10) == 0 {
				reads++
				c.ReadIndex(id, fmt.Sprintf("r%d-%s", reads, id))
			}
		}
		c.Tick()
	}
	c.Net.HealAll()
	c.Net.Reliable = true
	for _, id := range ids {
		c.Restart(id)
		c.Net.Connect(id)
	}
	idx := c.One([]byte("final"), nodes, true)
	c.Wait(idx, nodes, 0, 20*e)
	// A read at the end must be answered.
	served := c.ReadsServed
	l := c.CheckOneLeader(10 * e)
	if !c.ReadIndex(l, "final-read") {
		t.Fatal("leader refused a read")
	}
	c.Ticks(2 * e)
	if c.ReadsServed == served {
		t.Fatal("final read not answered on a healthy cluster")
	}
	t.Logf("%d entries committed, %d terms with leaders, %d reads answered", idx, len(c.Terms()), c.ReadsServed)
	return c
}

// The same seed gives the same run: what the simulation promises when it
// prints a failing seed.
func TestDeterministicReplay(t *testing.T) {
	a, b := runSchedule(t, 7), runSchedule(t, 7)
	if !reflect.DeepEqual(a.Committed(), b.Committed()) || !reflect.DeepEqual(a.Net.Sent, b.Net.Sent) ||
		a.Now() != b.Now() || a.ReadsServed != b.ReadsServed {
		t.Fatalf("two runs of seed 7 differ: %d vs %d entries, %v vs %v messages",
			len(a.Committed()), len(b.Committed()), a.Net.Sent, b.Net.Sent)
	}
}
