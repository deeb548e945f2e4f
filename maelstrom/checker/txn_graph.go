package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/internal/realclock"
)

// edgeKind is a set of reasons one transaction precedes another.
type edgeKind uint8

const (
	kindWW       edgeKind = 1 << iota // write-write: installed the next version
	kindWR                            // write-read: wrote the version read
	kindRW                            // read-write: read a version the other overwrote
	kindProcess                       // same process, earlier
	kindRealtime                      // completed before the other was invoked
)

const kindData = kindWW | kindWR | kindRW

func (k edgeKind) String() string {
	switch k {
	case kindWW:
		return "ww"
	case kindWR:
		return "wr"
	case kindRW:
		return "rw"
	case kindProcess:
		return "process"
	case kindRealtime:
		return "realtime"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

type txnEdge struct {
	to    int32
	kinds edgeKind
}

// txnGraph is the dependency graph over transactions, one node per
// transaction (failed ones stay isolated). Parallel edges merge into one
// with the union of their kinds.
type txnGraph struct {
	out  [][]txnEdge
	slot map[uint64]int32 // from<<32|to -> position in out[from]
}

func newTxnGraph(n int) *txnGraph {
	return &txnGraph{out: make([][]txnEdge, n), slot: map[uint64]int32{}}
}

func (g *txnGraph) add(from, to int32, k edgeKind) {
	if from == to {
		return
	}
	key := uint64(from)<<32 | uint64(uint32(to))
	if i, ok := g.slot[key]; ok {
		g.out[from][i].kinds |= k
		return
	}
	g.slot[key] = int32(len(g.out[from]))
	g.out[from] = append(g.out[from], txnEdge{to: to, kinds: k})
}

func (g *txnGraph) kinds(from, to int32) edgeKind {
	if i, ok := g.slot[uint64(from)<<32|uint64(uint32(to))]; ok {
		return g.out[from][i].kinds
	}
	return 0
}

// sccs returns, for the subgraph of edges with a kind in mask, the
// component of every node (-1 for nodes alone in theirs) and the
// components of two or more nodes. Tarjan's algorithm, iterative so that
// long chains cannot exhaust the stack.
func (g *txnGraph) sccs(mask edgeKind) (comp []int32, comps [][]int32) {
	n := len(g.out)
	index := make([]int32, n) // 0: unvisited; otherwise order+1
	low := make([]int32, n)
	onStack := make([]bool, n)
	comp = make([]int32, n)
	for i := range comp {
		comp[i] = -1
	}
	var stack []int32
	type frame struct {
		v  int32
		ei int
	}
	var calls []frame
	next := int32(1)
	for s := range n {
		if index[s] != 0 {
			continue
		}
		calls = append(calls, frame{v: int32(s)})
		index[s], low[s] = next, next
		next++
		stack = append(stack, int32(s))
		onStack[s] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if f.ei < len(g.out[v]) {
				e := g.out[v][f.ei]
				f.ei++
				if e.kinds&mask == 0 {
					continue
				}
				w := e.to
				if index[w] == 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if low[v] == index[v] {
				var members []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					members = append(members, w)
					if w == v {
						break
					}
				}
				if len(members) > 1 {
					for _, w := range members {
						comp[w] = int32(len(comps))
					}
					comps = append(comps, members)
				}
			}
			if len(calls) > 0 {
				p := calls[len(calls)-1].v
				low[p] = min(low[p], low[v])
			}
		}
	}
	return comp, comps
}

// txnAnalysis explains the data edges a workload's inference added.
type txnAnalysis interface {
	explain(from, to int32, k edgeKind) string
}

// cycleSearch looks for dependency cycles within a time budget.
type cycleSearch struct {
	c        *txnCheck
	an       txnAnalysis
	deadline realclock.Instant // on the real clock: see package realclock
	cut      bool
	steps    int
	seen     map[string]bool // cycles already reported, by rotation-free signature

	// BFS scratch over states (node, rw count capped at 2), reused between
	// searches by stamping instead of clearing.
	stamp    []uint32
	gen      uint32
	prev     []int32
	prevKind []edgeKind
}

func newCycleSearch(c *txnCheck, an txnAnalysis, deadline realclock.Instant) *cycleSearch {
	n := len(c.txns)
	return &cycleSearch{
		c: c, an: an, deadline: deadline, seen: map[string]bool{},
		stamp: make([]uint32, 3*n), prev: make([]int32, 3*n), prevKind: make([]edgeKind, 3*n),
	}
}

// expired says whether the budget is spent, asking the clock only every
// so many steps because the search's inner loops are cheap.
func (s *cycleSearch) expired() bool {
	if s.cut {
		return true
	}
	s.steps++
	if s.steps%512 == 1 && s.deadline.Passed() {
		s.cut = true
	}
	return s.cut
}

// cycleTries bounds how many cycles per component a search compares
// before keeping the shortest.
const cycleTries = 3

// searchSpec is one cycle search: cycles that start with an edge of kind
// start and continue over edges in path, with an rw count accept likes.
type searchSpec struct {
	start, path edgeKind
	accept      func(rw int) bool
}

// run searches the data graph for G0, G1c, G-single and G2 shapes, then,
// if asked, the graph with process edges for cycles through a process
// edge, then the graph with realtime edges for cycles through one of
// those. Searching narrow graphs first finds the most precise anomaly:
// a cycle reported as G1c has no rw edge at all, a G-single exactly one.
func (s *cycleSearch) run(process, realtime bool) {
	none := func(rw int) bool { return rw == 0 }
	one := func(rw int) bool { return rw == 1 }
	some := func(rw int) bool { return rw >= 1 }
	levels := []edgeKind{0}
	if process {
		levels = append(levels, kindProcess)
	}
	if realtime {
		levels = append(levels, kindRealtime)
	}
	var extra edgeKind
	for _, lv := range levels {
		extra |= lv
		// Every search below is confined to the components of this graph;
		// when it has none (the usual case for a good history), skip them.
		if _, comps := s.c.g.sccs(kindData | extra); len(comps) == 0 {
			continue
		}
		var specs []searchSpec
		if lv == 0 {
			specs = []searchSpec{
				{kindWW, kindWW, none},
				{kindWR, kindWW | kindWR, none},
				{kindRW, kindWW | kindWR, one},
				{kindRW, kindData, some},
			}
		} else {
			specs = []searchSpec{
				{lv, kindWW | extra, none},
				{lv, kindWW | kindWR | extra, none},
				{lv, kindData | extra, one},
				{lv, kindData | extra, some},
			}
		}
		for _, sp := range specs {
			if s.cut || s.expired() {
				return
			}
			s.search(sp)
		}
	}
}

func (s *cycleSearch) search(sp searchSpec) {
	g := s.c.g
	comp, comps := g.sccs(sp.start | sp.path)
	for ci, members := range comps {
		var best []cycleHop
		found := 0
		for _, a := range members {
			for _, e := range g.out[a] {
				if e.kinds&sp.start == 0 || comp[e.to] != int32(ci) {
					continue
				}
				if s.expired() {
					return
				}
				cyc := s.bfs(a, e.to, sp, comp, int32(ci))
				if cyc == nil {
					continue
				}
				if best == nil || len(cyc) < len(best) {
					best = cyc
				}
				found++
				if found >= cycleTries {
					break
				}
			}
			if found >= cycleTries {
				break
			}
		}
		if best != nil {
			s.reportCycle(best)
		}
	}
}

// cycleHop is a transaction and the edge kind that leads on from it.
type cycleHop struct {
	node int32
	kind edgeKind
}

// labelOrder picks one kind for a hop over an edge of several kinds:
// data before order, and rw last, so that a cycle is called by the mildest
// anomaly it really is.
func labelOrder() [5]edgeKind {
	return [...]edgeKind{kindWW, kindWR, kindProcess, kindRealtime, kindRW}
}

// bfs finds the shortest path from b back to a within component ci, over
// edges in sp.path, such that the cycle a -start-> b -> ... -> a has an
// acceptable number of rw edges. States are (node, rw count capped at 2).
func (s *cycleSearch) bfs(a, b int32, sp searchSpec, comp []int32, ci int32) []cycleHop {
	g := s.c.g
	startKind := kindRW
	if k := g.kinds(a, b) & sp.start; k&^kindRW != 0 {
		for _, l := range labelOrder() {
			if k&l != 0 {
				startKind = l
				break
			}
		}
	}
	rw0 := 0
	if startKind == kindRW {
		rw0 = 1
	}
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
	state := func(v int32, rw int) int32 { return v*3 + int32(rw) }
	first := state(b, rw0)
	s.stamp[first] = s.gen
	s.prev[first] = -1
	queue := []int32{first}
	for len(queue) > 0 {
		if s.expired() {
			return nil
		}
		st := queue[0]
		queue = queue[1:]
		v, rw := st/3, int(st%3)
		if v == a && sp.accept(rw) {
			return s.unwind(a, startKind, st)
		}
		if v == a {
			continue
		}
		for _, e := range g.out[v] {
			if comp[e.to] != ci {
				continue
			}
			k := e.kinds & sp.path
			if k == 0 {
				continue
			}
			// An edge of several kinds can be crossed as any of them; the
			// non-rw crossing and the rw crossing lead to different states.
			if nk := k &^ kindRW; nk != 0 {
				s.visit(&queue, st, state(e.to, rw), pick(nk))
			}
			if k&kindRW != 0 {
				s.visit(&queue, st, state(e.to, min(rw+1, 2)), kindRW)
			}
		}
	}
	return nil
}

func pick(k edgeKind) edgeKind {
	for _, l := range labelOrder() {
		if k&l != 0 {
			return l
		}
	}
	return k
}

func (s *cycleSearch) visit(queue *[]int32, from, to int32, k edgeKind) {
	if s.stamp[to] == s.gen {
		return
	}
	s.stamp[to] = s.gen
	s.prev[to] = from
	s.prevKind[to] = k
	*queue = append(*queue, to)
}

func (s *cycleSearch) unwind(a int32, startKind edgeKind, end int32) []cycleHop {
	var rev []cycleHop
	for st := end; s.prev[st] != -1; st = s.prev[st] {
		rev = append(rev, cycleHop{node: s.prev[st] / 3, kind: s.prevKind[st]})
	}
	hops := []cycleHop{{node: a, kind: startKind}}
	for i := len(rev) - 1; i >= 0; i-- {
		hops = append(hops, rev[i])
	}
	return hops
}

// classify names a cycle the way Adya and Elle do: by its rw edges (none:
// G0 when every data edge is ww, else G1c; one: G-single; more: G2-item,
// or G-nonadjacent when no two rw edges are adjacent), suffixed -process
// or -realtime when it needs such an edge to close.
func classify(hops []cycleHop) string {
	rw, allWW, proc, rt := 0, true, false, false
	for _, h := range hops {
		switch h.kind {
		case kindRW:
			rw++
			allWW = false
		case kindWR:
			allWW = false
		case kindProcess:
			proc = true
		case kindRealtime:
			rt = true
		}
	}
	var base string
	switch {
	case rw == 0 && allWW:
		base = "G0"
	case rw == 0:
		base = "G1c"
	case rw == 1:
		base = "G-single"
	default:
		base = "G-nonadjacent"
		for i, h := range hops {
			if h.kind == kindRW && hops[(i+1)%len(hops)].kind == kindRW {
				base = "G2-item"
				break
			}
		}
	}
	switch {
	case rt:
		return base + "-realtime"
	case proc:
		return base + "-process"
	}
	return base
}

func cycleMeaning(base string) string {
	switch base {
	case "G0":
		return "a write cycle (dirty write): the transactions' writes were applied in orders that contradict each other"
	case "G1c":
		return "circular information flow: each transaction wrote or read something that depends on the next, which no serial order allows"
	case "G-single":
		return "read skew: a cycle with exactly one read-write (anti-)dependency, so one transaction missed a write it must have seen"
	case "G2-item":
		return "write skew: a cycle of dependencies with two or more read-write (anti-)dependencies"
	case "G-nonadjacent":
		return "a cycle whose read-write (anti-)dependencies are never adjacent, which snapshot isolation forbids"
	}
	return "a dependency cycle"
}

func (s *cycleSearch) reportCycle(hops []cycleHop) {
	nodes := make([]int32, len(hops))
	for i, h := range hops {
		nodes[i] = h.node
	}
	m := slices.Index(nodes, slices.Min(nodes))
	rot := append(slices.Clone(nodes[m:]), nodes[:m]...)
	sig := fmt.Sprint(rot)
	if s.seen[sig] {
		return
	}
	s.seen[sig] = true
	hops = append(slices.Clone(hops[m:]), hops[:m]...)

	typ := classify(hops)
	base := strings.TrimSuffix(strings.TrimSuffix(typ, "-realtime"), "-process")
	steps := make([]TxnCycleStep, len(hops))
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s. ", typ, cycleMeaning(base))
	for i, h := range hops {
		to := hops[(i+1)%len(hops)].node
		reason := s.explain(h.node, to, h.kind)
		steps[i] = TxnCycleStep{Txn: s.c.txns[h.node].ref(), Edge: h.kind.String(), Reason: reason}
		fmt.Fprintf(&b, "%s -%s-> %s: %s. ", s.c.txns[h.node].id, h.kind, s.c.txns[to].id, reason)
	}
	b.WriteString("The transactions: ")
	for i, h := range hops {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.c.txns[h.node].String())
	}
	b.WriteString(".")
	s.c.report(TxnAnomaly{Type: typ, Explanation: b.String(), Cycle: steps})
}

func (s *cycleSearch) explain(from, to int32, k edgeKind) string {
	a, b := s.c.txns[from], s.c.txns[to]
	switch k {
	case kindProcess:
		return fmt.Sprintf("%s and %s ran on process %d, %s first", a.id, b.id, a.invoke.Process, a.id)
	case kindRealtime:
		return fmt.Sprintf("%s completed at %.3fs, before %s was invoked at %.3fs", a.id, a.done.Time.Seconds(), b.id, b.invoke.Time.Seconds())
	}
	return s.an.explain(from, to, k)
}
