package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// naiveSetFull is the set-full walk as Jepsen describes it: every ok read
// is compared against every tracked element. It is quadratic but obviously
// faithful; SetFull must agree with it.
func naiveSetFull(h history.History, addF string) SetFullDetails {
	type elem struct {
		v                       int64
		knownPos                int
		knownTime               time.Duration
		lastPresent, lastAbsent int // invocation positions, -1 if none
	}
	var order []*elem
	elems := map[int64]*elem{}
	openInv := map[int]int{}
	for pos, o := range h {
		if o.Type == history.Invoke {
			openInv[o.Process] = pos
			if o.F == addF {
				v := o.Value.(int64)
				if elems[v] == nil {
					e := &elem{v: v, knownPos: -1, lastPresent: -1, lastAbsent: -1}
					elems[v] = e
					order = append(order, e)
				}
			}
			continue
		}
		inv := openInv[o.Process]
		delete(openInv, o.Process)
		if o.Type != history.OK {
			continue
		}
		switch o.F {
		case addF:
			if e := elems[h[inv].Value.(int64)]; e.knownPos < 0 {
				e.knownPos, e.knownTime = pos, o.Time
			}
		case "read":
			in := map[int64]bool{}
			for _, v := range o.Value.([]int64) {
				in[v] = true
			}
			for _, e := range order {
				if in[e.v] {
					if e.knownPos < 0 {
						e.knownPos, e.knownTime = pos, o.Time
					}
					e.lastPresent = max(e.lastPresent, inv)
				} else {
					e.lastAbsent = max(e.lastAbsent, inv)
				}
			}
		}
	}
	var d SetFullDetails
	d.AttemptCount = len(order)
	var lat []float64
	for _, e := range order {
		switch {
		case e.lastPresent >= 0 && e.lastAbsent < e.lastPresent:
			d.StableCount++
			var l time.Duration
			if e.lastAbsent >= 0 {
				l = max(0, h[e.lastAbsent].Time+time.Nanosecond-e.knownTime)
			}
			lat = append(lat, ms(l))
			if l > 0 {
				d.StaleCount++
				d.Stale = append(d.Stale, e.v)
			}
		case e.knownPos >= 0 && e.lastAbsent > e.knownPos:
			d.LostCount++
			d.Lost = append(d.Lost, e.v)
		default:
			d.NeverReadCount++
			d.NeverRead = append(d.NeverRead, e.v)
		}
	}
	d.StableLatencies = latencyPoints(lat)
	return d
}

// randomSetHistory simulates clients against a set whose reads miss each
// element with probability miss, so that stale, lost and never-read
// elements all occur.
func randomSetHistory(r *rand.Rand, procs, events int, miss float64) history.History {
	b := &builder{}
	inflight := map[int]history.Op{}
	var added []int64
	next := int64(0)
	for i := range events {
		p := r.IntN(procs)
		node := []string{"n0", "n1", "n2"}[p%3]
		t := i + 1
		inv, busy := inflight[p]
		if !busy {
			if r.IntN(2) == 0 {
				b.inv(p, node, "add", next, t)
				added = append(added, next)
				next++
			} else {
				b.inv(p, node, "read", nil, t)
			}
			inflight[p] = b.h[len(b.h)-1]
			continue
		}
		delete(inflight, p)
		if inv.F == "add" {
			if r.Float64() < 0.8 {
				b.ok(p, node, "add", inv.Value, t)
			} else {
				b.info(p, node, "add", inv.Value, t)
			}
			continue
		}
		if r.Float64() < 0.1 {
			b.fail(p, node, "read", nil, t)
			continue
		}
		vals := []int64{}
		for _, v := range added {
			if r.Float64() >= miss {
				vals = append(vals, v)
			}
		}
		b.ok(p, node, "read", vals, t)
	}
	return b.h
}

func TestSetFullAgreesWithNaiveWalk(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		miss := []float64{0, 0.05, 0.3, 0.9}[seed%4]
		h := randomSetHistory(r, 1+r.IntN(6), 10+r.IntN(150), miss)
		got := SetFull(h, "add").Details.(SetFullDetails)
		want := naiveSetFull(h, "add")
		for _, s := range [][]int64{got.Stale, got.Lost, got.NeverRead, want.Stale, want.Lost, want.NeverRead} {
			slices.Sort(s)
		}
		if got.AttemptCount != want.AttemptCount || got.StableCount != want.StableCount ||
			!slices.Equal(got.Stale, want.Stale) || !slices.Equal(got.Lost, want.Lost) || !slices.Equal(got.NeverRead, want.NeverRead) {
			t.Fatalf("seed %d: SetFull and the naive walk disagree\n got: stable %d stale %v lost %v never %v\nwant: stable %d stale %v lost %v never %v",
				seed, got.StableCount, got.Stale, got.Lost, got.NeverRead, want.StableCount, want.Stale, want.Lost, want.NeverRead)
		}
		wantEqual(t, want.StableLatencies, got.StableLatencies, "seed %d: stable latencies", seed)
	}
}

// BenchmarkSetFull checks broadcast-like histories of n ops: n/2 adds and
// n/2 reads, each read holding nearly everything acknowledged so far, so
// the reads hold about n²/8 elements in total.
func BenchmarkSetFull(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		h := bigSetHistory(n)
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			for b.Loop() {
				if res := SetFull(h, "broadcast"); res.Valid != Valid {
					b.Fatal(res.Summary)
				}
			}
		})
	}
}

// BenchmarkSetFullSmallReads is a 100k-op history whose reads hold at most
// 100 elements, isolating the per-op cost from the size of the reads.
func BenchmarkSetFullSmallReads(b *testing.B) {
	bld := &builder{}
	for i := range 50_000 {
		v := int64(i)
		bld.call(history.OK, i%10, "n0", "add", v, v, 2*i, 2*i+1)
		seen := make([]int64, 0, 100)
		for w := max(0, v-99); w <= v; w++ {
			seen = append(seen, w)
		}
		bld.call(history.OK, i%10, "n1", "read", nil, seen, 2*i+1, 2*i+2)
	}
	for b.Loop() {
		SetFull(bld.h, "add")
	}
}

func bigSetHistory(ops int) history.History {
	bld := &builder{}
	var acked []int64
	for i := range ops / 2 {
		v := int64(i)
		p := i % 10
		node := []string{"n0", "n1", "n2", "n3", "n4"}[p%5]
		bld.call(history.OK, p, node, "broadcast", v, v, 2*i, 2*i+1)
		acked = append(acked, v)
		// Reads lag by a few elements, as a gossiping cluster would.
		seen := acked[:max(0, len(acked)-3)]
		if i == ops/2-1 {
			seen = acked
		}
		// Sharing the backing array keeps the benchmark's memory linear;
		// the checker still visits every element of every read.
		bld.call(history.OK, p, node, "read", nil, seen, 2*i+1, 2*i+2)
	}
	return bld.h
}
