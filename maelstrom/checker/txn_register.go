package checker

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// regVer is a version of a register: a written value, or the initial nil.
type regVer struct {
	isNil bool
	v     int64
}

func (r regVer) String() string {
	if r.isNil {
		return "nil"
	}
	return fmt.Sprint(r.v)
}

// registerAnalysis infers rw-register dependencies. Values are unique per
// key, so a value names its writer, but a read of a register says nothing
// about the order of the writes it did not see. The only version orders
// taken as known are the sound ones: the initial nil precedes every
// write, and a transaction that read version a of a key and then wrote b
// to it installed b after a (writes follow reads). ww and rw edges come
// only from those known orders; a chain of them stands for a path of real
// ww edges with the same number of rw edges, so cycles keep their class.
type registerAnalysis struct {
	c *txnCheck
	txnWrites
	// ext is each committed transaction's external read per key: the
	// first read, before any write of its own to that key.
	ext []map[int64]regVer
	// succ is the known version order: succ[k][a] are versions directly
	// known to follow a.
	succ    map[int64]map[regVer][]int64
	readers map[int64]map[regVer][]int32
}

func analyzeRegister(c *txnCheck) *registerAnalysis {
	an := &registerAnalysis{
		c:         c,
		txnWrites: indexWrites(c.txns, "w"),
		ext:       make([]map[int64]regVer, len(c.txns)),
		succ:      map[int64]map[regVer][]int64{},
		readers:   map[int64]map[regVer][]int32{},
	}
	for i, t := range c.txns {
		if t.committed() {
			an.ext[i] = an.internal(int32(i))
		}
	}

	// A version is in the order if its writer committed, or if the writer
	// is unknown (info) but some committed transaction read it, so it
	// surely took effect.
	isVersion := func(k int64, r regVer) bool {
		if r.isNil {
			return true
		}
		w, ok := an.writer[txnKV{k, r.v}]
		return ok && an.final[txnKV{k, r.v}] && c.txns[w].inGraph()
	}
	initial := an.initialValues()
	for i, t := range c.txns {
		if !t.committed() {
			continue
		}
		for _, k := range txnSortedKeys(an.ext[i]) {
			r := an.ext[i][k]
			if v, ok := initial[k]; ok && !r.isNil && r.v == v {
				// Probably the initial state (a node answering 0 for a key
				// nobody wrote): it orders as the initial nil.
				c.initialReads++
				if c.firstInitial == "" {
					c.firstInitial = fmt.Sprintf("%s read key %d as %d, but no transaction wrote %d to key %d", t.id, k, r.v, r.v, k)
				}
				r = regVer{isNil: true}
				an.ext[i][k] = r
			}
			if !an.checkRead(int32(i), k, r) {
				continue
			}
			if an.readers[k] == nil {
				an.readers[k] = map[regVer][]int32{}
			}
			an.readers[k][r] = append(an.readers[k][r], int32(i))
			if !r.isNil {
				c.g.add(an.writer[txnKV{k, r.v}], int32(i), kindWR)
			}
		}
	}
	// Writes follow reads: version edges from what a committed
	// transaction read to what it finally wrote.
	hasPred := map[txnKV]bool{}
	for i, t := range c.txns {
		if !t.committed() {
			continue
		}
		for _, k := range txnSortedKeys(an.last[i]) {
			w := an.last[i][k]
			r, ok := an.ext[i][k]
			if !ok || !isVersion(k, r) {
				continue
			}
			an.addSucc(k, r, w)
			if !r.isNil {
				hasPred[txnKV{k, w}] = true
			}
		}
	}
	// The initial nil precedes every version; versions with a known
	// non-nil predecessor already follow nil through it.
	observed := func(k, v int64) bool { return len(an.readers[k][regVer{v: v}]) > 0 }
	for i, t := range c.txns {
		if !t.inGraph() {
			continue
		}
		for _, k := range txnSortedKeys(an.last[i]) {
			v := an.last[i][k]
			if !an.final[txnKV{k, v}] || hasPred[txnKV{k, v}] {
				continue
			}
			if !t.committed() && !observed(k, v) {
				continue
			}
			if !slices.Contains(an.succ[k][regVer{isNil: true}], v) {
				an.addSucc(k, regVer{isNil: true}, v)
			}
		}
	}
	for _, k := range txnSortedKeys(an.succ) {
		succ := an.succ[k]
		from := make([]regVer, 0, len(succ))
		for a := range succ {
			from = append(from, a)
		}
		slices.SortFunc(from, func(x, y regVer) int {
			if x.isNil != y.isNil {
				if x.isNil {
					return -1
				}
				return 1
			}
			return cmp.Compare(x.v, y.v)
		})
		for _, a := range from {
			for _, b := range succ[a] {
				wb := an.writer[txnKV{k, b}]
				if !a.isNil {
					c.g.add(an.writer[txnKV{k, a.v}], wb, kindWW)
				}
				for _, r := range an.readers[k][a] {
					c.g.add(r, wb, kindRW)
				}
			}
		}
	}
	return an
}

// initialValues finds, per key, the value that committed transactions
// read although no transaction wrote it, when there is exactly one such
// value: that is plausibly the key's initial state. Two different
// unwritten values cannot both be, so then neither is. None in strict
// mode.
func (an *registerAnalysis) initialValues() map[int64]int64 {
	out := map[int64]int64{}
	if an.c.strictInitial {
		return out
	}
	several := map[int64]bool{}
	for i, t := range an.c.txns {
		if !t.committed() {
			continue
		}
		for k, r := range an.ext[i] {
			if r.isNil || several[k] {
				continue
			}
			if _, written := an.writer[txnKV{k, r.v}]; written {
				continue
			}
			if v, ok := out[k]; ok && v != r.v {
				several[k] = true
				delete(out, k)
				continue
			}
			out[k] = r.v
		}
	}
	return out
}

func (an *registerAnalysis) addSucc(k int64, a regVer, b int64) {
	if an.succ[k] == nil {
		an.succ[k] = map[regVer][]int64{}
	}
	an.succ[k][a] = append(an.succ[k][a], b)
}

// internal checks that a committed transaction's reads agree with its
// own earlier reads and writes, and returns its external reads.
func (an *registerAnalysis) internal(i int32) map[int64]regVer {
	c := an.c
	t := c.txns[i]
	type state struct {
		known bool
		val   regVer
		wrote bool
	}
	st := map[int64]*state{}
	ext := map[int64]regVer{}
	for _, m := range t.ops {
		s := st[m.Key]
		if s == nil {
			s = &state{}
			st[m.Key] = s
		}
		switch m.F {
		case "w":
			if v, ok := asInt64(m.Value); ok {
				s.known, s.val, s.wrote = true, regVer{v: v}, true
			}
		case "r":
			var r regVer
			if m.Value == nil {
				r.isNil = true
			} else if v, ok := asInt64(m.Value); ok {
				r.v = v
			} else {
				c.report(TxnAnomaly{Type: "garbage-read",
					Explanation: fmt.Sprintf("garbage-read: %s read key %d as %v, which is neither nil nor an integer", t.id, m.Key, m.Value),
					Txns:        c.refs(i)})
				continue
			}
			if s.known && r != s.val {
				why := "its own earlier read"
				if s.wrote {
					why = "its own earlier write"
				}
				c.report(TxnAnomaly{Type: "internal",
					Explanation: fmt.Sprintf("internal: %s read key %d as %s, but %s says it should be %s. The transaction: %s", t.id, m.Key, r, why, s.val, t),
					Txns:        c.refs(i)})
			}
			if !s.known {
				ext[m.Key] = r
			}
			s.known, s.val = true, r
		}
	}
	return ext
}

// checkRead reports garbage, aborted (G1a), intermediate (G1b) and future
// reads; it returns whether the read can inform the version order.
func (an *registerAnalysis) checkRead(i int32, k int64, r regVer) bool {
	if r.isNil {
		return true
	}
	c := an.c
	t := c.txns[i]
	w, ok := an.writer[txnKV{k, r.v}]
	switch {
	case !ok:
		c.report(TxnAnomaly{Type: "garbage-read",
			Explanation: fmt.Sprintf("garbage-read: %s read key %d as %d, but no transaction wrote %d to key %d", t.id, k, r.v, r.v, k),
			Txns:        c.refs(i)})
		return false
	case w == i:
		c.report(TxnAnomaly{Type: "internal",
			Explanation: fmt.Sprintf("internal: %s read key %d as %d before it wrote %d there itself. The transaction: %s", t.id, k, r.v, r.v, t),
			Txns:        c.refs(i)})
		return false
	case c.txns[w].outcome == history.Fail:
		c.report(TxnAnomaly{Type: "G1a",
			Explanation: fmt.Sprintf("G1a (aborted read): %s read key %d as %d, written by %s, a transaction that failed. The transactions: %s; %s", t.id, k, r.v, c.txns[w].id, t, c.txns[w]),
			Txns:        c.refs(i, w)})
		return false
	case !an.final[txnKV{k, r.v}]:
		c.report(TxnAnomaly{Type: "G1b",
			Explanation: fmt.Sprintf("G1b (intermediate read): %s read key %d as %d, but %s overwrote %d with a later write of its own, so %s saw a state in the middle of %s. The transactions: %s; %s",
				t.id, k, r.v, c.txns[w].id, r.v, t.id, c.txns[w].id, t, c.txns[w]),
			Txns: c.refs(i, w)})
		return false
	}
	return true
}

func (an *registerAnalysis) explain(from, to int32, k edgeKind) string {
	c := an.c
	a, b := c.txns[from], c.txns[to]
	for _, key := range txnSortedKeys(an.readers) {
		switch k {
		case kindWR:
			if r, ok := an.ext[to][key]; ok && !r.isNil && an.writer[txnKV{key, r.v}] == from {
				return fmt.Sprintf("%s read key %d as %d, written by %s", b.id, key, r.v, a.id)
			}
		case kindWW:
			wv, okw := an.last[from][key]
			r, okr := an.ext[to][key]
			bv, okb := an.last[to][key]
			if okw && okr && okb && !r.isNil && r.v == wv {
				return fmt.Sprintf("%s wrote %d to key %d after reading %s's %d there, so its version came later", b.id, bv, key, a.id, wv)
			}
		case kindRW:
			r, okr := an.ext[from][key]
			bv, okb := an.last[to][key]
			if !okr || !okb || !slices.Contains(an.succ[key][r], bv) {
				continue
			}
			if r.isNil {
				return fmt.Sprintf("%s read key %d as nil, the initial state, but %s wrote %d, a later version", a.id, key, b.id, bv)
			}
			return fmt.Sprintf("%s read key %d as %d, but %s wrote %d after reading %d, a later version %s did not see", a.id, key, r.v, b.id, bv, r.v, a.id)
		}
	}
	return fmt.Sprintf("%s precedes %s (%s)", a.id, b.id, k)
}

// txnSortedKeys returns a map's keys in order, so that reports and the
// graph's edge order, hence the cycles found, do not depend on map
// iteration.
func txnSortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
