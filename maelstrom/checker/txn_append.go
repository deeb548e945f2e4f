package checker

import (
	"fmt"
	"slices"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// txnKV is one value of one key.
type txnKV struct{ k, v int64 }

// appendRead is a committed transaction's read of a list.
type appendRead struct {
	txn  int32
	list []int64
	// ext is how many leading elements came from other transactions; the
	// rest are the reader's own earlier appends.
	ext int
}

// appendAnalysis infers list-append dependencies. Each append value is
// unique per key (the generator guarantees it), so a value names its
// writer, and every read is a prefix of the key's one true order: the
// longest read is the most we know of that order.
type appendAnalysis struct {
	c *txnCheck
	txnWrites
	order   map[int64][]int64
	witness map[int64]int32 // whose read showed order[k]
	pos     map[txnKV]int   // v's position in order[k]
	// observed marks indeterminate transactions that some committed read
	// shows, so they took effect.
	observed map[int32]bool
}

// txnWrites indexes every transaction's writes: its micro-ops of one
// function (append, w). Values are unique per key, so a value names its
// writer; should one be written twice, the first writer keeps it.
type txnWrites struct {
	writer map[txnKV]int32 // who wrote v to k
	final  map[txnKV]bool  // v was the writer's last write to k
	// last is each transaction's last write per key.
	last []map[int64]int64
	// appends lists each key's written values, in history order.
	appends map[int64][]int64
}

func indexWrites(txns []*txnRec, f string) txnWrites {
	w := txnWrites{
		writer:  map[txnKV]int32{},
		final:   map[txnKV]bool{},
		last:    make([]map[int64]int64, len(txns)),
		appends: map[int64][]int64{},
	}
	for i, t := range txns {
		w.last[i] = map[int64]int64{}
		for _, m := range t.ops {
			if m.F != f {
				continue
			}
			v, ok := asInt64(m.Value)
			if !ok {
				continue
			}
			if _, dup := w.writer[txnKV{m.Key, v}]; !dup {
				w.writer[txnKV{m.Key, v}] = int32(i)
				w.appends[m.Key] = append(w.appends[m.Key], v)
			}
			w.last[i][m.Key] = v
		}
		for k, v := range w.last[i] {
			if w.writer[txnKV{k, v}] == int32(i) {
				w.final[txnKV{k, v}] = true
			}
		}
	}
	return w
}

func analyzeAppend(c *txnCheck) *appendAnalysis {
	an := &appendAnalysis{
		c:         c,
		txnWrites: indexWrites(c.txns, "append"),
		order:     map[int64][]int64{},
		witness:   map[int64]int32{},
		pos:       map[txnKV]int{},
		observed:  map[int32]bool{},
	}

	reads := map[int64][]appendRead{}
	var keys []int64
	for i, t := range c.txns {
		if !t.committed() {
			continue
		}
		for _, r := range an.internal(int32(i)) {
			if _, ok := reads[r.k]; !ok {
				keys = append(keys, r.k)
			}
			reads[r.k] = append(reads[r.k], r.appendRead)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, r := range reads[k] {
			for _, v := range r.list {
				if w, ok := an.writer[txnKV{k, v}]; ok && c.txns[w].outcome == history.Info {
					an.observed[w] = true
				}
			}
		}
	}

	for _, k := range keys {
		rs := reads[k]
		var longest *appendRead
		for i := range rs {
			if longest == nil || len(rs[i].list) > len(longest.list) {
				longest = &rs[i]
			}
		}
		compatible := true
		for i := range rs {
			if !isPrefix(rs[i].list, longest.list) {
				compatible = false
				c.report(TxnAnomaly{
					Type: "incompatible-order",
					Explanation: fmt.Sprintf("incompatible-order: %s read key %d as %v and %s read it as %v; neither is a prefix of the other, so they cannot both be states of one list",
						c.txns[rs[i].txn].id, k, rs[i].list, c.txns[longest.txn].id, longest.list),
					Txns: c.refs(rs[i].txn, longest.txn),
				})
				break
			}
		}
		for i := range rs {
			an.checkRead(k, rs[i])
		}
		if !compatible {
			// No single order explains the reads, so none of the
			// dependencies below would be sound for this key.
			continue
		}
		an.order[k] = longest.list
		an.witness[k] = longest.txn
		for p, v := range longest.list {
			an.pos[txnKV{k, v}] = p
		}
		an.dirtyUpdate(k)
		an.edges(k, rs)
	}
	return an
}

type keyedRead struct {
	k int64
	appendRead
}

// internal checks that a committed transaction's reads agree with its own
// earlier reads and appends, and returns the reads that can inform the
// version order (those without duplicates).
func (an *appendAnalysis) internal(i int32) []keyedRead {
	c := an.c
	t := c.txns[i]
	type state struct {
		known bool
		list  []int64 // the last read, when known
		own   []int64 // appends since
	}
	st := map[int64]*state{}
	var out []keyedRead
	for _, m := range t.ops {
		s := st[m.Key]
		if s == nil {
			s = &state{}
			st[m.Key] = s
		}
		switch m.F {
		case "append":
			if v, ok := asInt64(m.Value); ok {
				s.own = append(s.own, v)
			}
		case "r":
			l, ok := txnList(m.Value)
			if !ok {
				c.report(TxnAnomaly{Type: "garbage-read",
					Explanation: fmt.Sprintf("garbage-read: %s read key %d as %v, which is not a list of integers", t.id, m.Key, m.Value),
					Txns:        c.refs(i)})
				continue
			}
			if dup, ok := firstDuplicate(l); ok {
				c.report(TxnAnomaly{Type: "duplicate-elements",
					Explanation: fmt.Sprintf("duplicate-elements: %s read key %d as %v, in which %d appears more than once, though each value was appended once", t.id, m.Key, l, dup),
					Txns:        c.refs(i)})
				s.known, s.list, s.own = true, l, nil
				continue
			}
			var want []int64
			bad := false
			if s.known {
				want = append(slices.Clone(s.list), s.own...)
				bad = !slices.Equal(l, want)
			} else {
				bad = len(l) < len(s.own) || !slices.Equal(l[len(l)-len(s.own):], s.own)
			}
			for _, v := range l {
				if w, ok := an.writer[txnKV{m.Key, v}]; ok && w == i && !slices.Contains(s.own, v) && !(s.known && slices.Contains(s.list, v)) {
					bad = true // it read its own append before making it
				}
			}
			if bad {
				exp := fmt.Sprintf("internal: %s read key %d as %v, but ", t.id, m.Key, l)
				if s.known {
					exp += fmt.Sprintf("its own earlier read and appends say it should be %v", want)
				} else {
					exp += fmt.Sprintf("it should end with the transaction's own earlier appends %v and contain none of its later ones", s.own)
				}
				c.report(TxnAnomaly{Type: "internal", Explanation: exp, Txns: c.refs(i)})
			}
			ext := len(l)
			for e, v := range l {
				if w, ok := an.writer[txnKV{m.Key, v}]; ok && w == i {
					ext = e
					break
				}
			}
			out = append(out, keyedRead{k: m.Key, appendRead: appendRead{txn: i, list: l, ext: ext}})
			s.known, s.list, s.own = true, l, nil
		}
	}
	return out
}

func firstDuplicate(l []int64) (int64, bool) {
	seen := make(map[int64]bool, len(l))
	for _, v := range l {
		if seen[v] {
			return v, true
		}
		seen[v] = true
	}
	return 0, false
}

func isPrefix(p, l []int64) bool { return len(p) <= len(l) && slices.Equal(p, l[:len(p)]) }

// checkRead looks for reads of values nobody appended (garbage), of
// appends by failed transactions (G1a, aborted read), and of a state that
// ends in the middle of another transaction's appends (G1b, intermediate
// read).
func (an *appendAnalysis) checkRead(k int64, r appendRead) {
	c := an.c
	reader := c.txns[r.txn]
	for _, v := range r.list {
		w, ok := an.writer[txnKV{k, v}]
		if !ok {
			c.report(TxnAnomaly{Type: "garbage-read",
				Explanation: fmt.Sprintf("garbage-read: %s read key %d as %v, but no transaction appended %d to key %d", reader.id, k, r.list, v, k),
				Txns:        c.refs(r.txn)})
			continue
		}
		if c.txns[w].outcome == history.Fail {
			c.report(TxnAnomaly{Type: "G1a",
				Explanation: fmt.Sprintf("G1a (aborted read): %s read key %d as %v, which includes %d, appended by %s, a transaction that failed. The transactions: %s; %s",
					reader.id, k, r.list, v, c.txns[w].id, reader, c.txns[w]),
				Txns: c.refs(r.txn, w)})
		}
	}
	if r.ext == 0 {
		return
	}
	v := r.list[r.ext-1]
	if w, ok := an.writer[txnKV{k, v}]; ok && w != r.txn && !an.final[txnKV{k, v}] && c.txns[w].inGraph() {
		c.report(TxnAnomaly{Type: "G1b",
			Explanation: fmt.Sprintf("G1b (intermediate read): %s read key %d as %v, which ends with %d, but %s appended more to key %d after %d, so %s saw a state in the middle of %s. The transactions: %s; %s",
				reader.id, k, r.list, v, c.txns[w].id, k, v, reader.id, c.txns[w].id, reader, c.txns[w]),
			Txns: c.refs(r.txn, w)})
	}
}

// dirtyUpdate finds a committed append that landed after a failed one:
// the failed transaction's append should have vanished, yet a committed
// transaction built on top of it.
func (an *appendAnalysis) dirtyUpdate(k int64) {
	c := an.c
	l := an.order[k]
	for i, v := range l {
		w, ok := an.writer[txnKV{k, v}]
		if !ok || c.txns[w].inGraph() {
			continue
		}
		for _, u := range l[i+1:] {
			x, ok := an.writer[txnKV{k, u}]
			if ok && c.txns[x].inGraph() {
				c.report(TxnAnomaly{Type: "dirty-update",
					Explanation: fmt.Sprintf("dirty-update: on key %d, %s appended %d after %d, which %s appended before it failed, as read %v by %s shows",
						k, c.txns[x].id, u, v, c.txns[w].id, l, c.txns[an.witness[k]].id),
					Txns: c.refs(w, x, an.witness[k])})
				return
			}
		}
		return
	}
}

// edges adds, for one key whose order is known: ww from each writer to
// the next one in the order, wr from the writer of the last element a
// transaction read (from others) to that reader, and rw from the reader
// to the writer of the element that came next.
//
// A committed append that no read shows still belongs to the list, and
// since every read is a prefix of the list it can only come after the
// longest read. So it gets a ww edge from the last writer of that read
// and an rw edge from each reader who saw the whole of it. Among several
// unread appends the order is unknown: the edges skip over it, and each
// stands for a path with the same number of rw edges in the true graph.
//
// An indeterminate transaction that a read shows is taken to have
// committed, as for the appends in the order itself: had it aborted, the
// read that showed it was an aborted read (G1a), which every model but
// read-uncommitted forbids anyway.
func (an *appendAnalysis) edges(k int64, rs []appendRead) {
	c := an.c
	l := an.order[k]
	prev := int32(-1)
	for _, v := range l {
		w, ok := an.writer[txnKV{k, v}]
		if !ok || !c.txns[w].inGraph() {
			continue
		}
		if prev >= 0 {
			c.g.add(prev, w, kindWW)
		}
		prev = w
	}
	for _, r := range rs {
		if r.ext > 0 {
			if w, ok := an.writer[txnKV{k, r.list[r.ext-1]}]; ok && c.txns[w].inGraph() {
				c.g.add(w, r.txn, kindWR)
			}
		}
		for _, v := range l[r.ext:] {
			w, ok := an.writer[txnKV{k, v}]
			if !ok || !c.txns[w].inGraph() {
				continue
			}
			if w != r.txn {
				c.g.add(r.txn, w, kindRW)
			}
			break
		}
	}
	for _, u := range an.unread(k) {
		w := an.writer[txnKV{k, u}]
		if prev >= 0 {
			c.g.add(prev, w, kindWW)
		}
		for _, r := range rs {
			if r.ext == len(l) {
				c.g.add(r.txn, w, kindRW)
			}
		}
	}
}

// unread lists the appends to k that no read of k shows, by
// transactions that surely took effect: committed ones and indeterminate
// ones that some read shows. Other indeterminate ones may never have
// happened, so they are left out.
func (an *appendAnalysis) unread(k int64) []int64 {
	var out []int64
	for _, v := range an.appends[k] {
		if _, seen := an.pos[txnKV{k, v}]; seen {
			continue
		}
		w := an.writer[txnKV{k, v}]
		if an.c.txns[w].committed() || an.observed[w] {
			out = append(out, v)
		}
	}
	return out
}

func (an *appendAnalysis) explain(from, to int32, k edgeKind) string {
	c := an.c
	a, b := c.txns[from], c.txns[to]
	for _, key := range txnSortedKeys(an.order) {
		l := an.order[key]
		wit := c.txns[an.witness[key]].id
		switch k {
		case kindWW:
			prev, prevV := int32(-1), int64(0)
			for _, v := range l {
				w, ok := an.writer[txnKV{key, v}]
				if !ok || !c.txns[w].inGraph() {
					continue
				}
				if prev == from && w == to {
					return fmt.Sprintf("%s appended %d to key %d after %s's %d, as read %v by %s shows", b.id, v, key, a.id, prevV, l, wit)
				}
				prev, prevV = w, v
			}
			if prev == from {
				for _, u := range an.unread(key) {
					if an.writer[txnKV{key, u}] == to {
						return fmt.Sprintf("%s appended %d to key %d, which no read shows, so it came after %s's %d, the end of the longest read %v by %s",
							b.id, u, key, a.id, prevV, l, wit)
					}
				}
			}
		case kindWR, kindRW:
			reader := from
			if k == kindWR {
				reader = to
			}
			for _, m := range c.txns[reader].ops {
				if m.F != "r" || m.Key != key {
					continue
				}
				rl, ok := txnList(m.Value)
				if !ok || !isPrefix(rl, l) {
					continue
				}
				if k == kindWR {
					for e := len(rl) - 1; e >= 0; e-- {
						w := an.writer[txnKV{key, rl[e]}]
						if w == reader {
							continue
						}
						if w == from {
							return fmt.Sprintf("%s read key %d as %v, which ends with %s's append of %d", b.id, key, rl, a.id, rl[e])
						}
						break
					}
					continue
				}
				for _, v := range l[len(rl):] {
					w, ok := an.writer[txnKV{key, v}]
					if !ok || !c.txns[w].inGraph() || w == reader {
						continue
					}
					if w == to {
						return fmt.Sprintf("%s read key %d as %v and missed %s's append of %d, which came next, as read %v by %s shows", a.id, key, rl, b.id, v, l, wit)
					}
					break
				}
				if len(rl) == len(l) {
					for _, u := range an.unread(key) {
						if an.writer[txnKV{key, u}] == to {
							return fmt.Sprintf("%s read key %d as %v, the longest read, and missed %s's append of %d, which no read shows and so came later", a.id, key, rl, b.id, u)
						}
					}
				}
			}
		}
	}
	return fmt.Sprintf("%s precedes %s (%s)", a.id, b.id, k)
}
