package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/realclock"
)

// DefaultTxnBudget bounds the cycle search of Txn. Inference is linear in
// the history; only the search for cycles inside large strongly connected
// components can take long, and a cut search answers unknown.
const DefaultTxnBudget = 30 * time.Second

// Txn checks a txn-list-append (kind "list-append") or txn-rw-register
// (kind "rw-register") history against consistency models, in the manner
// of Elle: it infers write-write, write-read and read-write dependencies
// between transactions from the values they read, adds process and
// realtime order when a model needs them, and looks for cycles and for
// non-cyclic anomalies (aborted and intermediate reads, internal
// inconsistency, duplicate elements, incompatible orders, dirty updates,
// reads of values nobody wrote).
//
// Cycles are classified by their edges: G0 (ww only), G1c (ww and wr),
// G-single (one rw), G2-item (two or more rw, some adjacent) or
// G-nonadjacent (rw never adjacent), with a -process or -realtime suffix
// when the cycle needs such an edge to close. Narrow graphs are searched
// first, so each cycle gets the mildest name it truly deserves.
//
// Models take Elle's friendly names (see TxnModels); none means
// strict-serializable. Unknown names are refused with an unknown verdict
// that lists the known ones.
//
// Unlike Maelstrom's own checker, which misses them, Txn finds G0 dirty
// writes: in list-append, T1 appends 1 to x and 1 to y, T2 appends 2 to x
// and 2 to y, and reads show x=[1 2] but y=[2 1]. Each key's read tells
// which append came first, the two orders contradict each other, and the
// write-write edges form a cycle T1 -> T2 -> T1.
//
// Inference is sound: every edge stands for a path of real dependencies
// with the same number of rw edges, so an invalid verdict is never a
// false alarm. An indeterminate transaction that some read shows is taken
// to have committed, as Elle does (had it aborted, that read was an
// aborted read, G1a); one nobody saw gets no edges out of it. For
// list-append little escapes the inference: even appends that no read
// shows are known to follow the longest read. For rw-register, whose
// reads reveal far less, version order is known only from the initial
// nil and from writes that follow reads within a transaction, so some
// non-serializable histories pass.
//
// The verdict is invalid when an anomaly the models forbid was found,
// unknown when the cycle search ran out of time (or nothing committed),
// and valid otherwise, never valid on a cut search.
//
// In rw-register, a read of a value no transaction wrote to that key is
// taken, as Elle takes it, as the key's initial state when it is the only
// such value read for that key (a node that answers 0 for a key nobody
// wrote): it orders like the initial nil and is reported as a warning, not
// as a garbage read. TxnOptions.StrictInitialReads makes it a garbage read.
func Txn(h history.History, kind string, models []string) Result {
	return TxnWith(h, kind, models, TxnOptions{})
}

// TxnOptions tune Txn.
type TxnOptions struct {
	// Budget bounds the cycle search; zero or less means DefaultTxnBudget.
	Budget time.Duration
	// StrictInitialReads makes every read of a value nobody wrote a
	// garbage read, even one that looks like the key's initial state.
	StrictInitialReads bool
}

// TxnWithBudget is Txn with a bound on the cycle search; a budget of zero
// or less means DefaultTxnBudget.
func TxnWithBudget(h history.History, kind string, models []string, budget time.Duration) Result {
	return TxnWith(h, kind, models, TxnOptions{Budget: budget})
}

// TxnWith is Txn with options.
func TxnWith(h history.History, kind string, models []string, opts TxnOptions) Result {
	budget := opts.Budget
	if budget <= 0 {
		budget = DefaultTxnBudget
	}
	res := Result{Checker: "txn"}
	ms, err := resolveModels(models)
	if err != nil {
		res.Valid = Unknown
		res.Summary = err.Error()
		res.Details = TxnDetails{Kind: kind, Models: models, Error: err.Error()}
		return res
	}
	if kind != "list-append" && kind != "rw-register" {
		msg := fmt.Sprintf("unknown transactional workload kind %q; known kinds are list-append and rw-register", kind)
		res.Valid = Unknown
		res.Summary = msg
		res.Details = TxnDetails{Kind: kind, Models: ms.names, Error: msg}
		return res
	}

	c := newTxnCheck(h)
	c.strictInitial = opts.StrictInitialReads
	var an txnAnalysis
	if kind == "list-append" {
		an = analyzeAppend(c)
	} else {
		an = analyzeRegister(c)
	}
	if ms.process || ms.realtime {
		c.addProcessEdges()
	}
	if ms.realtime {
		c.addRealtimeEdges(len(h))
	}
	s := newCycleSearch(c, an, realclock.Deadline(budget))
	s.run(ms.process || ms.realtime, ms.realtime)
	return c.verdict(kind, ms, s.cut)
}

// txnRec is one transaction of the history. inv and comp are positions in
// the history (comp is -1 when it never completed): positions, not
// Op.Index, order events, since a producer may leave Index unset. ops is
// what the transaction did as far as we know: the completion's micro-ops
// when it committed (reads filled in), the invocation's otherwise.
type txnRec struct {
	id      string
	inv     int
	comp    int
	invoke  history.Op
	done    *history.Op
	outcome history.Type
	ops     history.Txn
}

func (t *txnRec) committed() bool { return t.outcome == history.OK }

// inGraph says whether the transaction may have taken effect: failed
// transactions definitely did not, so they carry no dependency edges.
func (t *txnRec) inGraph() bool { return t.outcome != history.Fail }

func (t *txnRec) ref() TxnRef {
	r := TxnRef{
		ID:      t.id,
		Index:   t.inv,
		Process: t.invoke.Process,
		Node:    t.invoke.Node,
		Invoked: t.invoke.Time,
		Outcome: string(t.outcome),
		Txn:     t.ops,
	}
	if t.done != nil {
		r.Completed = t.done.Time
		if t.done.Node != "" {
			r.Node = t.done.Node
		}
	}
	return r
}

func (t *txnRec) String() string {
	s := fmt.Sprintf("%s (p%d", t.id, t.invoke.Process)
	if n := t.ref().Node; n != "" {
		s += " " + n
	}
	s += fmt.Sprintf(", invoked %.3fs", t.invoke.Time.Seconds())
	if t.done != nil {
		s += fmt.Sprintf(", %s %.3fs", t.outcome, t.done.Time.Seconds())
	} else {
		s += ", never completed"
	}
	return s + ") " + txnString(t.ops)
}

func txnString(tx history.Txn) string {
	parts := make([]string, len(tx))
	for i, m := range tx {
		v := "nil"
		if m.Value != nil {
			v = fmt.Sprint(m.Value)
		}
		parts[i] = fmt.Sprintf("[%s %d %s]", m.F, m.Key, v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TxnRef identifies a transaction in an explanation. ID is "T" followed by
// the position of its invocation in the history, which is Index.
type TxnRef struct {
	ID        string        `json:"id"`
	Index     int           `json:"index"`
	Process   int           `json:"process"`
	Node      string        `json:"node,omitempty"`
	Invoked   time.Duration `json:"invoked"`
	Completed time.Duration `json:"completed,omitempty"`
	Outcome   string        `json:"outcome"`
	Txn       history.Txn   `json:"txn"`
}

// TxnCycleStep is one transaction of a cycle and the edge that leads from
// it to the next one (the last step leads back to the first).
type TxnCycleStep struct {
	Txn    TxnRef `json:"txn"`
	Edge   string `json:"edge"` // ww, wr, rw, process or realtime
	Reason string `json:"reason"`
}

// TxnAnomaly is one anomaly, explained in plain words.
type TxnAnomaly struct {
	Type        string         `json:"type"`
	Explanation string         `json:"explanation"`
	Cycle       []TxnCycleStep `json:"cycle,omitempty"`
	Txns        []TxnRef       `json:"txns,omitempty"`
}

// TxnDetails is the Details of a Txn result.
type TxnDetails struct {
	Kind         string         `json:"kind"`
	Models       []string       `json:"models"`
	Transactions int            `json:"transactions"` // committed ones
	AnomalyTypes []string       `json:"anomaly-types,omitempty"`
	Counts       map[string]int `json:"counts,omitempty"`
	// Not holds the weakest models the anomalies rule out; AlsoNot the
	// stronger ones they rule out too.
	Not       []string     `json:"not,omitempty"`
	AlsoNot   []string     `json:"also-not,omitempty"`
	Anomalies []TxnAnomaly `json:"anomalies,omitempty"` // capped per type
	SearchCut bool         `json:"search-cut,omitempty"`
	Error     string       `json:"error,omitempty"`
	// InitialReads counts rw-register reads of a value nobody wrote that
	// were taken as the key's initial state (see Txn).
	InitialReads int `json:"initial-reads,omitempty"`
}

// maxTxnExamples caps the examples kept per anomaly type; counts go on.
const maxTxnExamples = 8

// maxTxnViolations caps Result.Violations.
const maxTxnViolations = 10

// txnCheck is the state shared by inference, the graph and the verdict.
type txnCheck struct {
	// unreadable lists transactions whose value is not a transaction. The
	// checker can vouch neither way for a history it cannot read: a lost
	// write there could show up as a false garbage read here.
	unreadable []string
	txns       []*txnRec
	g          *txnGraph
	anomalies  map[string][]TxnAnomaly
	counts     map[string]int
	// strictInitial: no read of an unwritten value is an initial state.
	strictInitial bool
	// initialReads counts reads taken as a key's initial state;
	// firstInitial describes the first.
	initialReads int
	firstInitial string
}

func newTxnCheck(h history.History) *txnCheck {
	c := &txnCheck{anomalies: map[string][]TxnAnomaly{}, counts: map[string]int{}}
	open := map[int]*txnRec{}
	for i := range h {
		o := h[i]
		if o.Type == history.Invoke {
			delete(open, o.Process)
			if o.F != "txn" {
				continue
			}
			ops, ok := txnOps(o.Value)
			t := &txnRec{id: fmt.Sprintf("T%d", i), inv: i, comp: -1, invoke: o, outcome: history.Info, ops: ops}
			if !ok {
				c.unreadable = append(c.unreadable, t.id)
			}
			open[o.Process] = t
			c.txns = append(c.txns, t)
			continue
		}
		t, ok := open[o.Process]
		if !ok {
			continue
		}
		delete(open, o.Process)
		done := o
		t.done, t.comp = &done, i
		switch o.Type {
		case history.OK:
			t.outcome = history.OK
			ops, ok := txnOps(o.Value)
			if !ok {
				c.unreadable = append(c.unreadable, t.id)
			}
			t.ops = ops
		case history.Fail:
			t.outcome = history.Fail
		}
	}
	c.g = newTxnGraph(len(c.txns))
	return c
}

// txnOps reads a transaction: history.Txn as workloads record it, or the
// generic JSON shapes a history read back from disk has, micro-ops as
// [f key value] triples or {"f", "key", "value"} objects. ok is false for
// anything else, which the verdict must not mistake for an empty
// transaction.
func txnOps(v any) (history.Txn, bool) {
	switch x := v.(type) {
	case history.Txn:
		return x, true
	case []history.MicroOp:
		return history.Txn(x), true
	case []any:
		out := make(history.Txn, len(x))
		for i, e := range x {
			var f, key, val any
			switch m := e.(type) {
			case []any:
				if len(m) != 3 {
					return nil, false
				}
				f, key, val = m[0], m[1], m[2]
			case map[string]any:
				f, key, val = m["f"], m["key"], m["value"]
			default:
				return nil, false
			}
			fs, ok1 := f.(string)
			k, ok2 := asInt64(key)
			if !ok1 || !ok2 {
				return nil, false
			}
			if n, ok := asInt64(val); ok {
				val = n
			}
			out[i] = history.MicroOp{F: fs, Key: k, Value: val}
		}
		return out, true
	}
	return nil, false
}

func (c *txnCheck) report(a TxnAnomaly) {
	c.counts[a.Type]++
	if len(c.anomalies[a.Type]) < maxTxnExamples {
		c.anomalies[a.Type] = append(c.anomalies[a.Type], a)
	}
}

func (c *txnCheck) refs(ids ...int32) []TxnRef {
	out := make([]TxnRef, len(ids))
	for i, id := range ids {
		out[i] = c.txns[id].ref()
	}
	return out
}

// addProcessEdges orders each process's transactions: a Jepsen process
// runs one operation at a time. Edges leave committed transactions only:
// one that never completed may still take effect after its successors.
func (c *txnCheck) addProcessEdges() {
	last := map[int]int32{}
	for i, t := range c.txns {
		if !t.inGraph() {
			continue
		}
		if j, ok := last[t.invoke.Process]; ok {
			c.g.add(j, int32(i), kindProcess)
		}
		if t.committed() {
			last[t.invoke.Process] = int32(i)
		}
	}
}

// addRealtimeEdges adds T1 -> T2 whenever T1 completed before T2 was
// invoked, but only as a transitive reduction: a sweep keeps the frontier
// of completed transactions that no later completed transaction follows.
// An invocation gets an edge from each member of the frontier; a
// completion retires the members its transaction already follows. Every
// realtime pair stays reachable and the edge count stays near
// n x concurrency rather than n squared.
func (c *txnCheck) addRealtimeEdges(n int) {
	byInvoke := make(map[int]int32, len(c.txns))
	byDone := make(map[int]int32, len(c.txns))
	for i, t := range c.txns {
		if !t.inGraph() {
			continue
		}
		byInvoke[t.inv] = int32(i)
		if t.committed() {
			byDone[t.comp] = int32(i)
		}
	}
	// The frontier is a slice, not a map, so that edges are added in the
	// same order on every run and the cycles reported are reproducible.
	var frontier []int32
	preds := map[int32][]int32{}
	for pos := range n {
		if i, ok := byInvoke[pos]; ok {
			for _, f := range frontier {
				c.g.add(f, i, kindRealtime)
			}
			if c.txns[i].committed() {
				preds[i] = slices.Clone(frontier)
			}
			continue
		}
		if i, ok := byDone[pos]; ok {
			retired := map[int32]bool{}
			for _, p := range preds[i] {
				retired[p] = true
			}
			frontier = slices.DeleteFunc(frontier, func(f int32) bool { return retired[f] })
			frontier = append(frontier, i)
			delete(preds, i)
		}
	}
}

func (c *txnCheck) verdict(kind string, ms modelSet, cut bool) Result {
	res := Result{Checker: "txn"}
	d := TxnDetails{Kind: kind, Models: ms.names, Counts: c.counts, SearchCut: cut, InitialReads: c.initialReads}
	if c.initialReads > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d read(s) returned a value no transaction wrote, taken as the key's initial state, as Elle takes them (first: %s). A key nobody wrote should read as null; --strict-initial-reads counts these as garbage reads",
			c.initialReads, c.firstInitial))
	}
	for _, t := range c.txns {
		if t.committed() {
			d.Transactions++
		}
	}
	types := make([]string, 0, len(c.counts))
	for t := range c.counts {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		ri, rj := anomalyRank(types[i]), anomalyRank(types[j])
		if ri != rj {
			return ri < rj
		}
		return types[i] < types[j]
	})
	d.AnomalyTypes = types
	d.Not, d.AlsoNot = ruledOut(types)

	var forbidden []string
	for _, t := range types {
		if ms.forbids(t) {
			forbidden = append(forbidden, t)
		}
	}
	for _, t := range types {
		d.Anomalies = append(d.Anomalies, c.anomalies[t]...)
	}
	res.Details = d

	switch {
	case len(c.unreadable) > 0:
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("%d transactions have values that are not transactions (first %s), so the history cannot be checked",
			len(c.unreadable), c.unreadable[0])
	case len(forbidden) > 0:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s violates %s: %s", kind, strings.Join(ms.names, ", "), strings.Join(forbidden, ", "))
		for _, t := range forbidden {
			for _, a := range c.anomalies[t] {
				if len(res.Violations) >= maxTxnViolations {
					break
				}
				res.Violations = append(res.Violations, c.violation(a))
			}
		}
	case cut:
		res.Valid = Unknown
		res.Summary = "the cycle search ran out of time before it could rule out every anomaly"
	case d.Transactions == 0:
		res.Valid = Unknown
		res.Summary = "no transaction committed, so there is nothing to check"
	default:
		res.Valid = Valid
		res.Summary = fmt.Sprintf("%d committed transactions show no anomaly that %s forbids", d.Transactions, strings.Join(ms.names, ", "))
		if len(types) > 0 {
			res.Summary += fmt.Sprintf(" (found %s, which they allow)", strings.Join(types, ", "))
		}
	}
	return res
}

// violation turns an anomaly into a Violation that points at the
// completion (or, failing that, the invocation) of its first transaction.
func (c *txnCheck) violation(a TxnAnomaly) Violation {
	v := Violation{What: a.Type, Detail: a.Explanation}
	var ref *TxnRef
	if len(a.Cycle) > 0 {
		ref = &a.Cycle[0].Txn
	} else if len(a.Txns) > 0 {
		ref = &a.Txns[0]
	}
	if ref == nil {
		return v
	}
	for _, t := range c.txns {
		if t.inv != ref.Index {
			continue
		}
		op := t.invoke
		if t.done != nil {
			op = *t.done
		}
		v.Op, v.Node, v.Time, v.Value = &op, ref.Node, op.Time, t.ops
		break
	}
	return v
}

// txnList reads a list-append read result; ok is false for a value that is
// neither nil nor a list of integers.
func txnList(v any) (l []int64, ok bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case []int64:
		return x, true
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			n, ok := asInt64(e)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	return nil, false
}
