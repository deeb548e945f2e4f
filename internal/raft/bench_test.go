package raft

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchCluster is a minimal driver for benchmarks: instant delivery, no
// faults, no invariant checks, so that the figure measures the core (and
// MemoryStorage), not the test harness.
type benchCluster struct {
	nodes map[string]*Raft
	store map[string]*MemoryStorage
	queue []Message
	json  bool // round-trip every message through encoding/json, as between processes
}

func newBenchCluster(b *testing.B, n int) (*benchCluster, *Raft) {
	c := &benchCluster{nodes: map[string]*Raft{}, store: map[string]*MemoryStorage{}}
	var peers []string
	for i := 1; i <= n; i++ {
		peers = append(peers, fmt.Sprintf("n%d", i))
	}
	for _, id := range peers {
		s := NewMemoryStorage()
		r, err := New(Config{ID: id, Peers: peers, Storage: s, MaxBatch: 256})
		if err != nil {
			b.Fatal(err)
		}
		c.nodes[id], c.store[id] = r, s
	}
	for {
		for _, id := range peers {
			c.nodes[id].Tick()
			c.process(id)
		}
		c.deliver()
		for _, r := range c.nodes {
			if r.role == Leader {
				return c, r
			}
		}
	}
}

func (c *benchCluster) process(id string) {
	r := c.nodes[id]
	for r.HasReady() {
		rd := r.Ready()
		if u := rd.Update(); !u.IsEmpty() {
			c.store[id].Save(u)
		}
		c.queue = append(c.queue, rd.Messages...)
		r.Advance(rd)
		// Bound memory in long runs.
		if a := r.log.applied; a-r.log.snap.Meta.Index > 10000 {
			r.Compact(a, nil)
		}
	}
}

func (c *benchCluster) deliver() {
	for len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		if c.json {
			b, _ := json.Marshal(m)
			m = Message{}
			json.Unmarshal(b, &m)
		}
		c.nodes[m.To].Step(m)
		c.process(m.To)
	}
}

// BenchmarkCommit measures committed proposals per second in one process:
// batch=64 proposes 64 entries between Readys (they share appends and
// acknowledgements), batch=1 waits for each commit before the next;
// json=true encodes every message as JSON, as nodes in separate processes do.
func BenchmarkCommit(b *testing.B) {
	data := make([]byte, 64)
	for _, n := range []int{3, 5} {
		for _, tc := range []struct {
			batch int
			json  bool
		}{{1, false}, {64, false}, {1, true}, {64, true}} {
			batch := tc.batch
			name := fmt.Sprintf("nodes=%d/batch=%d/json=%v", n, batch, tc.json)
			b.Run(name, func(b *testing.B) {
				c, l := newBenchCluster(b, n)
				c.json = tc.json
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					var last uint64
					for range min(batch, b.N-i) {
						idx, _, err := l.Propose(data)
						if err != nil {
							b.Fatal(err)
						}
						last = idx
					}
					c.process(l.id)
					c.deliver()
					if l.log.committed < last {
						b.Fatalf("not committed: %d < %d", l.log.committed, last)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			})
		}
	}
}
