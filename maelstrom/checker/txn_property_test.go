package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// serialTxnGen makes histories of a store that runs one transaction at a
// time. Each transaction takes effect at an instant between its
// invocation and completion (instants in time order), so the history is
// strict-serializable by construction. Keys retire after maxWrites writes,
// as in Maelstrom's generator, so lists stay short.
type serialTxnGen struct {
	intn      func(n int) int // uniform in [0, n)
	kind      string
	txns      int
	procs     int
	keys      int
	maxWrites int
	overlap   bool // let transactions of different processes overlap
	// staleEvery, when positive, breaks the store: about one transaction
	// in staleEvery reads from a state up to ten transactions old.
	staleEvery int
}

func (g serialTxnGen) history() history.History {
	type planned struct {
		p              int
		inv, lin, comp int64
		outcome        history.Type
		applied        bool
		tx             history.Txn
	}
	active := make([]int64, g.keys)
	for i := range active {
		active[i] = int64(i)
	}
	nextKey := int64(g.keys)
	writes := map[int64]int64{}
	procs := make([]int, g.procs)
	free := make([]int64, g.procs)
	for i := range procs {
		procs[i] = i
	}
	nextProc := g.procs
	var now int64
	plan := make([]*planned, 0, g.txns)
	for range g.txns {
		slot := g.intn(g.procs)
		t := &planned{p: procs[slot], outcome: history.OK, applied: true}
		if g.overlap {
			t.inv = max(free[slot], now) + int64(g.intn(3))
			now = t.inv
		} else {
			t.inv = now + 1 + int64(g.intn(3))
		}
		t.lin = t.inv + 1 + int64(g.intn(5))
		t.comp = t.lin + 1 + int64(g.intn(5))
		if !g.overlap {
			now = t.comp
		}
		free[slot] = t.comp + 1
		switch g.intn(10) {
		case 0:
			t.outcome, t.applied = history.Fail, false
		case 1:
			t.outcome, t.applied = history.Info, g.intn(2) == 0
			// Jepsen gives the worker a new process after an info.
			procs[slot] = nextProc
			nextProc++
		}
		for range 1 + g.intn(4) {
			slot := g.intn(g.keys)
			k := active[slot]
			if g.intn(2) == 0 {
				t.tx = append(t.tx, history.MicroOp{F: "r", Key: k})
				continue
			}
			writes[k]++
			f := "w"
			if g.kind == "list-append" {
				f = "append"
			}
			t.tx = append(t.tx, history.MicroOp{F: f, Key: k, Value: writes[k]})
			if writes[k] >= int64(g.maxWrites) {
				active[slot] = nextKey
				nextKey++
			}
		}
		plan = append(plan, t)
	}

	// Execute in the order of the instants at which they take effect.
	order := slices.Clone(plan)
	slices.SortStableFunc(order, func(a, b *planned) int { return int(a.lin - b.lin) })
	// Each key's writes with the sequence number of the transaction that
	// made them, so that a stale read can look back in time.
	type write struct {
		seq int
		v   int64
	}
	writesOf := map[int64][]write{}
	for seq, t := range order {
		if !t.applied {
			continue
		}
		cutoff := seq // sees writes of transactions before this one
		if g.staleEvery > 0 && g.intn(g.staleEvery) == 0 {
			cutoff = max(0, seq-1-g.intn(10))
		}
		done := make(history.Txn, len(t.tx))
		for i, m := range t.tx {
			done[i] = m
			switch m.F {
			case "append", "w":
				writesOf[m.Key] = append(writesOf[m.Key], write{seq, m.Value.(int64)})
			case "r":
				var seen []int64
				for _, w := range writesOf[m.Key] {
					if w.seq < cutoff || w.seq == seq {
						seen = append(seen, w.v)
					}
				}
				if len(seen) == 0 {
					continue
				}
				if g.kind == "list-append" {
					done[i].Value = seen
				} else {
					done[i].Value = seen[len(seen)-1]
				}
			}
		}
		t.tx = done
	}

	var evs []timedOp
	for i, t := range plan {
		inv := make(history.Txn, len(t.tx))
		for j, m := range t.tx {
			inv[j] = m
			if m.F == "r" {
				inv[j].Value = nil
			}
		}
		node := fmt.Sprintf("n%d", t.p%5)
		evs = append(evs, timedOp{t.inv, 2 * i, history.Op{Type: history.Invoke, Process: t.p, F: "txn", Value: inv, Node: node}})
		c := history.Op{Type: t.outcome, Process: t.p, F: "txn", Node: node}
		switch t.outcome {
		case history.OK:
			c.Value = t.tx
		default:
			c.Value = inv
		}
		evs = append(evs, timedOp{t.comp, 2*i + 1, c})
	}
	h := timeline(evs)
	return h
}

func TestTxnSerialExecutionsAreStrictSerializable(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		g := serialTxnGen{
			intn:      func(n int) int { return rapid.IntRange(0, n-1).Draw(rt, "n") },
			kind:      rapid.SampledFrom([]string{"list-append", "rw-register"}).Draw(rt, "kind"),
			txns:      rapid.IntRange(1, 40).Draw(rt, "txns"),
			procs:     rapid.IntRange(1, 5).Draw(rt, "procs"),
			keys:      rapid.IntRange(1, 4).Draw(rt, "keys"),
			maxWrites: rapid.IntRange(2, 8).Draw(rt, "maxWrites"),
			overlap:   rapid.Bool().Draw(rt, "overlap"),
		}
		h := g.history()
		r := Txn(h, g.kind, nil)
		if r.Valid == Invalid {
			rt.Fatalf("a serial execution was judged invalid: %s\n%v", r.Summary, r.Violations)
		}
		// Unknown is only acceptable when nothing committed.
		if r.Valid == Unknown && txnDetails(t, r).Transactions > 0 {
			rt.Fatalf("unknown verdict on a small serial history: %s", r.Summary)
		}
	})
}

// TestTxnSerialGeneratorIsNotTrivial makes sure the property above
// exercises the checker: the generated histories read what others wrote,
// so dependency edges exist, and breaking one read is noticed.
func TestTxnSerialGeneratorIsNotTrivial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := serialTxnGen{intn: rng.IntN, kind: "list-append", txns: 300, procs: 5, keys: 3, maxWrites: 8, overlap: true}
	h := g.history()
	c := newTxnCheck(h)
	analyzeAppend(c)
	edges := 0
	for _, es := range c.g.out {
		edges += len(es)
	}
	wantTrue(t, edges > 100, "only %d edges", edges)

	// Drop the last element of the longest read of some key: a committed
	// append vanishes from that reader's view while later readers saw it.
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type != history.OK {
			continue
		}
		tx := h[i].Value.(history.Txn)
		for j, m := range tx {
			if l, ok := m.Value.([]int64); ok && m.F == "r" && len(l) >= 2 {
				bad := slices.Clone(tx)
				bad[j].Value = []int64{l[1], l[0]}
				h[i].Value = bad
				r := Txn(h, "list-append", nil)
				wantEqual(t, Invalid, r.Valid, r.Summary)
				return
			}
		}
	}
	t.Fatal("no read of two or more elements in the generated history")
}

func BenchmarkTxnListAppend10k(b *testing.B) {
	benchmarkTxn(b, "list-append")
}

func BenchmarkTxnRWRegister10k(b *testing.B) {
	benchmarkTxn(b, "rw-register")
}

// BenchmarkTxnListAppend10kStale checks a broken store's history: stale
// reads make large strongly connected components for the cycle search.
func BenchmarkTxnListAppend10kStale(b *testing.B) {
	benchmarkTxnStale(b, "list-append")
}

func BenchmarkTxnRWRegister10kStale(b *testing.B) {
	benchmarkTxnStale(b, "rw-register")
}

func benchmarkTxn(b *testing.B, kind string) {
	rng := rand.New(rand.NewPCG(7, 11))
	g := serialTxnGen{intn: rng.IntN, kind: kind, txns: 10_000, procs: 10, keys: 10, maxWrites: 16, overlap: true}
	h := g.history()
	b.ResetTimer()
	for b.Loop() {
		r := Txn(h, kind, nil)
		if r.Valid != Valid {
			b.Fatalf("want valid, got %s: %s", r.Valid, r.Summary)
		}
	}
}

func benchmarkTxnStale(b *testing.B, kind string) {
	rng := rand.New(rand.NewPCG(7, 11))
	g := serialTxnGen{intn: rng.IntN, kind: kind, txns: 10_000, procs: 10, keys: 10, maxWrites: 16, overlap: true, staleEvery: 20}
	h := g.history()
	b.ResetTimer()
	for b.Loop() {
		r := Txn(h, kind, nil)
		if r.Valid != Invalid {
			b.Fatalf("want invalid, got %s: %s", r.Valid, r.Summary)
		}
		b.ReportMetric(float64(len(r.Details.(TxnDetails).AnomalyTypes)), "anomaly-types")
	}
}

// The realtime sweep keeps only a reduction of the realtime order; its
// transitive closure must still be exactly that order.
func TestTxnRealtimeReductionKeepsOrder(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		g := serialTxnGen{
			intn:      func(n int) int { return rapid.IntRange(0, n-1).Draw(rt, "n") },
			kind:      "list-append",
			txns:      rapid.IntRange(1, 30).Draw(rt, "txns"),
			procs:     rapid.IntRange(1, 6).Draw(rt, "procs"),
			keys:      2,
			maxWrites: 4,
			overlap:   true,
		}
		h := g.history()
		c := newTxnCheck(h)
		c.addRealtimeEdges(len(h))
		n := len(c.txns)
		for a := range n {
			reach := make([]bool, n)
			stack := []int32{int32(a)}
			for len(stack) > 0 {
				v := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, e := range c.g.out[v] {
					if e.kinds&kindRealtime != 0 && !reach[e.to] {
						reach[e.to] = true
						stack = append(stack, e.to)
					}
				}
			}
			for b := range n {
				ta, tb := c.txns[a], c.txns[b]
				want := a != b && ta.committed() && tb.inGraph() && ta.comp < tb.inv
				if reach[b] != want {
					rt.Fatalf("%s -> %s: reachable %v, completed-before-invoked %v", ta.id, tb.id, reach[b], want)
				}
			}
		}
	})
}
