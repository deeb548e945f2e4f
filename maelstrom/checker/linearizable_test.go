package checker

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/realclock"
)

// randomKVHistory simulates a linearizable lin-kv store: every op takes
// effect at a random instant inside its interval, so the history is
// linearizable by construction. Some ops time out (:info) whether or not
// they took effect; cas with a wrong precondition fails.
func randomKVHistory(r *rand.Rand, keys, procsPerKey, opsPerKey int) history.History {
	type sim struct {
		proc          int
		node          string
		f             string
		in            history.KV
		inv, lp, comp int64 // microseconds
		typ           history.Type
		out           any
	}
	var all []sim
	proc := 0
	for k := range int64(keys) {
		var ops []sim
		clock := make([]int64, procsPerKey)
		procs := make([]int, procsPerKey)
		for i := range procs {
			procs[i] = proc
			proc++
		}
		for range opsPerKey {
			pi := r.IntN(procsPerKey)
			inv := clock[pi] + int64(r.IntN(50))
			lp := inv + 1 + int64(r.IntN(100))
			comp := lp + 1 + int64(r.IntN(100))
			clock[pi] = comp
			s := sim{proc: procs[pi], node: []string{"n0", "n1", "n2"}[pi%3], inv: inv, lp: lp, comp: comp}
			switch x := r.IntN(5); {
			case pi%2 == 0 || x < 1:
				s.f, s.in = "read", history.KV{Key: k}
			case x < 3:
				s.f, s.in = "write", history.KV{Key: k, Value: i64(int64(r.IntN(5)))}
			default:
				s.f, s.in = "cas", history.KV{Key: k, From: i64(int64(r.IntN(5))), To: i64(int64(r.IntN(5)))}
			}
			ops = append(ops, s)
		}
		slices.SortFunc(ops, func(a, b sim) int { return cmp.Compare(a.lp, b.lp) })
		var state *int64
		for i := range ops {
			s := &ops[i]
			timedOut := r.IntN(100) == 0
			happened := !timedOut || r.IntN(2) == 0
			s.typ = history.OK
			switch s.f {
			case "read":
				s.out = history.KV{Key: k, Value: state}
			case "write":
				if happened {
					state = s.in.Value
				}
			case "cas":
				if state == nil || *state != *s.in.From {
					s.typ = history.Fail
					happened = false
				} else if happened {
					state = s.in.To
				}
			}
			if timedOut {
				// Whether or not it happened, the client never learns.
				s.typ, s.out = history.Info, nil
			}
		}
		all = append(all, ops...)
	}
	type ev struct {
		t   int64
		inv bool
		s   *sim
	}
	var evs []ev
	for i := range all {
		evs = append(evs, ev{all[i].inv, true, &all[i]}, ev{all[i].comp, false, &all[i]})
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return cmp.Compare(a.t, b.t) })
	b := &builder{}
	for _, e := range evs {
		s := e.s
		t := time.Duration(e.t) * time.Microsecond
		o := history.Op{Index: len(b.h), Process: s.proc, F: s.f, Node: s.node, Time: t, Type: history.Invoke, Value: s.in}
		if !e.inv {
			o.Type, o.Value = s.typ, s.out
		}
		b.h = append(b.h, o)
	}
	return b.h
}

func TestLinearizableRandomValid(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		h := randomKVHistory(r, 3, 6, 200)
		res := Linearizable(h, time.Minute, "")
		mustEqual(t, Valid, res.Valid, "seed %d: %s", seed, res.Summary)
	}
}

// TestLinearizableCatchesCorruption changes one successful read of a
// linearizable history to a value no write ever produced: the checker
// must notice on exactly that key.
func TestLinearizableCatchesCorruption(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 2))
		h := randomKVHistory(r, 3, 6, 100)
		var reads []int
		for i, o := range h {
			if o.Type == history.OK && o.F == "read" {
				reads = append(reads, i)
			}
		}
		i := reads[r.IntN(len(reads))]
		key := h[i].Value.(history.KV).Key
		h[i].Value = history.KV{Key: key, Value: i64(99)}
		res := Linearizable(h, time.Minute, "")
		mustEqual(t, Invalid, res.Valid, "seed %d: %s", seed, res.Summary)
		wantEqual(t, []int64{key}, res.Details.(LinearizableDetails).Failures, "seed %d", seed)
		wantEqual(t, h[i].Time, res.First().Time, "seed %d: the corrupted read is blamed", seed)
	}
}

func TestLinearizableUnreadableOp(t *testing.T) {
	h := (&builder{}).call(history.OK, 0, "n0", "read", history.KV{Key: 0}, "garbage", 1, 2).h
	res := Linearizable(h, time.Minute, "")
	mustEqual(t, Unknown, res.Valid, res.Summary)
	wantContains(t, res.Violations[0].Detail, "garbage")
}

// BenchmarkLinearizable checks a 100k-op lin-kv history: 200 keys of 500
// ops each, 10 processes per key.
func BenchmarkLinearizable(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	h := randomKVHistory(r, 200, 10, 500)
	for b.Loop() {
		if res := Linearizable(h, 5*time.Minute, ""); res.Valid != Valid {
			b.Fatal(res.Summary)
		}
	}
}

// hardKVHistory has n writes of distinct values, all concurrent, then a
// read of a value none of them wrote. Proving it illegal means trying every
// subset of the writes: 2^n configurations, far beyond any budget.
func hardKVHistory(n int) history.History {
	b := &builder{}
	for i := range n {
		b.inv(i, "n0", "write", history.KV{Key: 1, Value: i64(int64(i))}, i)
	}
	for i := range n {
		b.ok(i, "n0", "write", nil, 100+i)
	}
	return b.call(history.OK, n, "n1", "read", history.KV{Key: 1}, history.KV{Key: 1, Value: i64(-1)}, 200, 201).h
}

// Under a synctest bubble the timers porcupine's own timeout relies on do
// not move while the search computes; the budget must still end the check
// on the real clock, with the key unknown rather than valid.
func TestLinearizableBudgetHoldsUnderVirtualTime(t *testing.T) {
	h := hardKVHistory(40)
	synctest.Test(t, func(t *testing.T) {
		start := realclock.Now()
		res := Linearizable(h, 300*time.Millisecond, "")
		took := realclock.Since(start)
		mustEqual(t, Unknown, res.Valid, res.Summary)
		if took > 20*time.Second {
			t.Fatalf("a 300 ms budget took %v of real time", took)
		}
		wantContains(t, res.Details.(LinearizableDetails).Keys[0].Unverified, "ran out")
	})
}

// With no time limit the memory bound alone must stop the search: without
// it this test would run until the machine ran out of memory.
func TestLinearizableMemoryBudget(t *testing.T) {
	defer func(m int64) { searchMemory = m }(searchMemory)
	searchMemory = 8 << 20
	res := Linearizable(hardKVHistory(40), 0, "")
	mustEqual(t, Unknown, res.Valid, res.Summary)
	wantContains(t, res.Summary, "could not decide")
}

// Under virtual time a client catching up on its schedule invokes and
// completes many operations at one instant, one after the other. They are
// sequential, not concurrent: the search must see at most two in flight
// (one of them the long write), not all thirty.
func TestLinearizableSameInstantOpsStaySequential(t *testing.T) {
	b := &builder{}
	b.inv(0, "n0", "write", history.KV{Key: 1, Value: i64(9)}, 0)
	for i := range 30 {
		v := int64(i % 5)
		b.call(history.OK, 1, "n1", "write", history.KV{Key: 1, Value: &v}, nil, 500, 500)
		b.call(history.OK, 1, "n1", "read", history.KV{Key: 1}, history.KV{Key: 1, Value: &v}, 500, 500)
	}
	b.ok(0, "n0", "write", nil, 900)
	h := b.h
	perKey, _, _ := splitKV(h)
	if got := maxOverlap(toPorcupine(perKey[1])); got != 2 {
		t.Fatalf("%d operations in flight at once, want 2", got)
	}
	res := Linearizable(h, time.Minute, "")
	mustEqual(t, Valid, res.Valid, res.Summary)
}
