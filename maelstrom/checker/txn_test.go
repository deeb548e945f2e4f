package checker

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// txnHB builds hand-made transactional histories. Every event is one
// millisecond after the previous one, so the order of calls is the order
// of time.
type txnHB struct {
	h   history.History
	now time.Duration
}

func (b *txnHB) add(typ history.Type, p int, tx history.Txn) {
	b.now += time.Millisecond
	b.h = append(b.h, history.Op{Index: len(b.h), Type: typ, Process: p, F: "txn", Value: tx, Time: b.now, Node: fmt.Sprintf("n%d", p%3)})
}

// invoke records an invocation; reads go out with nil values.
func (b *txnHB) invoke(p int, tx history.Txn) {
	out := make(history.Txn, len(tx))
	for i, m := range tx {
		out[i] = m
		if m.F == "r" {
			out[i].Value = nil
		}
	}
	b.add(history.Invoke, p, out)
}

func (b *txnHB) complete(p int, typ history.Type, tx history.Txn) { b.add(typ, p, tx) }

// txn records a transaction that runs alone.
func (b *txnHB) txn(p int, typ history.Type, tx ...history.MicroOp) {
	b.invoke(p, tx)
	b.complete(p, typ, tx)
}

func txAppend(k, v int64) history.MicroOp { return history.MicroOp{F: "append", Key: k, Value: v} }
func txReadList(k int64, vs ...int64) history.MicroOp {
	if vs == nil {
		return history.MicroOp{F: "r", Key: k, Value: nil}
	}
	return history.MicroOp{F: "r", Key: k, Value: vs}
}
func txWrite(k, v int64) history.MicroOp   { return history.MicroOp{F: "w", Key: k, Value: v} }
func txReadReg(k, v int64) history.MicroOp { return history.MicroOp{F: "r", Key: k, Value: v} }
func txReadNil(k int64) history.MicroOp    { return history.MicroOp{F: "r", Key: k, Value: nil} }

func txnDetails(t *testing.T, r Result) TxnDetails {
	t.Helper()
	d, ok := r.Details.(TxnDetails)
	mustTrue(t, ok, "details are %T", r.Details)
	return d
}

func txRequireAnomaly(t *testing.T, r Result, typ string) TxnAnomaly {
	t.Helper()
	d := txnDetails(t, r)
	for _, a := range d.Anomalies {
		if a.Type == typ {
			return a
		}
	}
	t.Fatalf("anomaly missing: want %s, got types %v; summary %q", typ, d.AnomalyTypes, r.Summary)
	return TxnAnomaly{}
}

// txnG0Append is the dirty write Maelstrom's checker misses: x says T1's
// append came first, y says T2's did.
func txnG0Append() history.History {
	var b txnHB
	b.invoke(0, history.Txn{txAppend(1, 1), txAppend(2, 1)})
	b.invoke(1, history.Txn{txAppend(1, 2), txAppend(2, 2)})
	b.complete(0, history.OK, history.Txn{txAppend(1, 1), txAppend(2, 1)})
	b.complete(1, history.OK, history.Txn{txAppend(1, 2), txAppend(2, 2)})
	b.txn(2, history.OK, txReadList(1, 1, 2))
	b.txn(3, history.OK, txReadList(2, 2, 1))
	return b.h
}

func TestTxnListAppendG0(t *testing.T) {
	r := Txn(txnG0Append(), "list-append", nil)
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G0")
	mustEqual(t, 2, len(a.Cycle))
	for _, s := range a.Cycle {
		wantEqual(t, "ww", s.Edge)
	}
	wantContains(t, a.Explanation, "appended 2 to key 1 after T0's 1, as read [1 2] by T4 shows")
	wantContains(t, a.Explanation, "appended 1 to key 2 after T1's 2, as read [2 1] by T6 shows")
	d := txnDetails(t, r)
	wantEqual(t, []string{"read-uncommitted"}, d.Not)
	wantContains(t, d.AlsoNot, "strict-serializable")
	mustTrue(t, len(r.Violations) > 0, "no violations")
	wantEqual(t, "G0", r.Violations[0].What)

	// Even the weakest model forbids dirty writes.
	wantEqual(t, Invalid, Txn(txnG0Append(), "list-append", []string{"read-uncommitted"}).Valid)
}

func TestTxnRegisterG1c(t *testing.T) {
	var b txnHB
	b.invoke(0, history.Txn{txWrite(1, 1), txReadNil(2)})
	b.invoke(1, history.Txn{txWrite(2, 1), txReadNil(1)})
	b.complete(0, history.OK, history.Txn{txWrite(1, 1), txReadReg(2, 1)})
	b.complete(1, history.OK, history.Txn{txWrite(2, 1), txReadReg(1, 1)})
	r := Txn(b.h, "rw-register", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G1c")
	wantContains(t, a.Explanation, "T0 -wr-> T1: T1 read key 1 as 1, written by T0")
	wantEqual(t, Valid, Txn(b.h, "rw-register", []string{"read-uncommitted"}).Valid)
}

func TestTxnRegisterG0WriteCycle(t *testing.T) {
	// T2 read T3's x and overwrote it; T3 read T2's y and overwrote it.
	// The ww edges alone close a cycle.
	var b txnHB
	b.invoke(0, history.Txn{txReadReg(1, 2), txWrite(1, 3), txWrite(2, 1)})
	b.invoke(1, history.Txn{txReadReg(2, 1), txWrite(2, 2), txWrite(1, 2)})
	b.complete(0, history.OK, history.Txn{txReadReg(1, 2), txWrite(1, 3), txWrite(2, 1)})
	b.complete(1, history.OK, history.Txn{txReadReg(2, 1), txWrite(2, 2), txWrite(1, 2)})
	r := Txn(b.h, "rw-register", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G0")
	wantContains(t, a.Explanation, "after reading")
}

func TestTxnG1a(t *testing.T) {
	var b txnHB
	b.txn(0, history.Fail, txAppend(1, 1))
	b.txn(1, history.OK, txReadList(1, 1))
	r := Txn(b.h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid)
	a := txRequireAnomaly(t, r, "G1a")
	wantContains(t, a.Explanation, "failed")
	wantEqual(t, Valid, Txn(b.h, "list-append", []string{"read-uncommitted"}).Valid)
	wantEqual(t, Invalid, Txn(b.h, "list-append", []string{"read-committed"}).Valid)

	var c txnHB
	c.txn(0, history.Fail, txWrite(1, 1))
	c.txn(1, history.OK, txReadReg(1, 1))
	r = Txn(c.h, "rw-register", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid)
	txRequireAnomaly(t, r, "G1a")
}

func TestTxnG1b(t *testing.T) {
	var b txnHB
	b.invoke(0, history.Txn{txAppend(1, 1), txAppend(1, 2)})
	b.txn(1, history.OK, txReadList(1, 1))
	b.complete(0, history.OK, history.Txn{txAppend(1, 1), txAppend(1, 2)})
	r := Txn(b.h, "list-append", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G1b")
	wantContains(t, a.Explanation, "intermediate read")

	var c txnHB
	c.invoke(0, history.Txn{txWrite(1, 1), txWrite(1, 2)})
	c.txn(1, history.OK, txReadReg(1, 1))
	c.complete(0, history.OK, history.Txn{txWrite(1, 1), txWrite(1, 2)})
	r = Txn(c.h, "rw-register", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "G1b")
}

func TestTxnG1c(t *testing.T) {
	var b txnHB
	b.invoke(0, history.Txn{txAppend(1, 1), txReadList(2)})
	b.invoke(1, history.Txn{txAppend(2, 1), txReadList(1)})
	b.complete(0, history.OK, history.Txn{txAppend(1, 1), txReadList(2, 1)})
	b.complete(1, history.OK, history.Txn{txAppend(2, 1), txReadList(1, 1)})
	r := Txn(b.h, "list-append", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G1c")
	for _, s := range a.Cycle {
		wantEqual(t, "wr", s.Edge)
	}
	wantContains(t, a.Explanation, "which ends with")
	wantEqual(t, Valid, Txn(b.h, "list-append", []string{"read-uncommitted"}).Valid)
}

// txnGSingle is read skew: T1 sees T0's append to y but not its append to x.
func txnGSingle() history.History {
	var b txnHB
	b.invoke(1, history.Txn{txReadList(1), txReadList(2)})
	b.txn(0, history.OK, txAppend(1, 1), txAppend(2, 1))
	b.complete(1, history.OK, history.Txn{txReadList(1), txReadList(2, 1)})
	b.txn(2, history.OK, txReadList(1, 1))
	return b.h
}

func TestTxnGSingle(t *testing.T) {
	r := Txn(txnGSingle(), "list-append", []string{"snapshot-isolation"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G-single")
	wantContains(t, a.Explanation, "missed T1's append of 1, which came next")
	wantEqual(t, Invalid, Txn(txnGSingle(), "list-append", []string{"repeatable-read"}).Valid)
	// A model that forbids less accepts it.
	ok := Txn(txnGSingle(), "list-append", []string{"read-committed"})
	wantEqual(t, Valid, ok.Valid, ok.Summary)
	wantContains(t, txnDetails(t, ok).AnomalyTypes, "G-single")
	wantContains(t, ok.Summary, "G-single")

	var b txnHB
	b.invoke(1, history.Txn{txReadNil(1), txReadNil(2)})
	b.txn(0, history.OK, txWrite(1, 1), txWrite(2, 1))
	b.complete(1, history.OK, history.Txn{txReadNil(1), txReadReg(2, 1)})
	r = Txn(b.h, "rw-register", []string{"serializable"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a = txRequireAnomaly(t, r, "G-single")
	wantContains(t, a.Explanation, "read key 1 as nil, the initial state")
}

// txnWriteSkew: T0 reads x and appends to y, T1 reads y and appends to x,
// each missing the other's append.
func txnWriteSkew() history.History {
	var b txnHB
	b.invoke(0, history.Txn{txReadList(1), txAppend(2, 1)})
	b.invoke(1, history.Txn{txReadList(2), txAppend(1, 1)})
	b.complete(0, history.OK, history.Txn{txReadList(1), txAppend(2, 1)})
	b.complete(1, history.OK, history.Txn{txReadList(2), txAppend(1, 1)})
	b.txn(2, history.OK, txReadList(1, 1), txReadList(2, 1))
	return b.h
}

func TestTxnG2Item(t *testing.T) {
	r := Txn(txnWriteSkew(), "list-append", []string{"serializable"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G2-item")
	for _, s := range a.Cycle {
		wantEqual(t, "rw", s.Edge)
	}
	wantEqual(t, Invalid, Txn(txnWriteSkew(), "list-append", []string{"repeatable-read"}).Valid)
	wantEqual(t, Valid, Txn(txnWriteSkew(), "list-append", []string{"snapshot-isolation"}).Valid)

	var b txnHB
	b.invoke(0, history.Txn{txReadNil(1), txWrite(2, 1)})
	b.invoke(1, history.Txn{txReadNil(2), txWrite(1, 1)})
	b.complete(0, history.OK, history.Txn{txReadNil(1), txWrite(2, 1)})
	b.complete(1, history.OK, history.Txn{txReadNil(2), txWrite(1, 1)})
	r = Txn(b.h, "rw-register", []string{"serializable"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "G2-item")
	wantEqual(t, Valid, Txn(b.h, "rw-register", []string{"snapshot-isolation"}).Valid)
}

// txnStaleRead: T1 starts after T0 committed x=1 yet reads nil. Serializable
// (T1 before T0), not strict-serializable.
func txnStaleRead(kind string) history.History {
	var b txnHB
	if kind == "list-append" {
		b.txn(0, history.OK, txAppend(1, 1))
		b.txn(1, history.OK, txReadList(1))
		b.txn(2, history.OK, txReadList(1, 1))
	} else {
		b.txn(0, history.OK, txWrite(1, 1))
		b.txn(1, history.OK, txReadNil(1))
	}
	return b.h
}

func TestTxnRealtime(t *testing.T) {
	for _, kind := range []string{"list-append", "rw-register"} {
		t.Run(kind, func(t *testing.T) {
			h := txnStaleRead(kind)
			r := Txn(h, kind, []string{"serializable"})
			wantEqual(t, Valid, r.Valid, r.Summary)
			r = Txn(h, kind, nil)
			mustEqual(t, Invalid, r.Valid, r.Summary)
			a := txRequireAnomaly(t, r, "G-single-realtime")
			wantContains(t, a.Explanation, "completed at 0.002s, before T2 was invoked at 0.003s")
			d := txnDetails(t, r)
			wantContains(t, d.Not, "strong-snapshot-isolation")
			wantNotContains(t, d.Not, "serializable")
			// Both transactions ran on different processes, so session
			// models are satisfied.
			wantEqual(t, Valid, Txn(h, kind, []string{"strong-session-serializable"}).Valid)
		})
	}
}

func TestTxnProcess(t *testing.T) {
	var b txnHB
	b.txn(0, history.OK, txWrite(1, 1))
	b.txn(0, history.OK, txReadNil(1))
	r := Txn(b.h, "rw-register", []string{"strong-session-serializable"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G-single-process")
	wantContains(t, a.Explanation, "ran on process 0")
	wantEqual(t, Valid, Txn(b.h, "rw-register", []string{"serializable"}).Valid)
}

func TestTxnIncompatibleOrder(t *testing.T) {
	var b txnHB
	b.txn(0, history.OK, txAppend(1, 1))
	b.txn(1, history.OK, txAppend(1, 2))
	b.txn(2, history.OK, txReadList(1, 1, 2))
	b.txn(3, history.OK, txReadList(1, 2, 1))
	r := Txn(b.h, "list-append", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "incompatible-order")
	wantContains(t, a.Explanation, "[1 2]")
	wantContains(t, a.Explanation, "[2 1]")
}

func TestTxnDuplicates(t *testing.T) {
	var b txnHB
	b.txn(0, history.OK, txAppend(1, 1))
	b.txn(1, history.OK, txReadList(1, 1, 1))
	r := Txn(b.h, "list-append", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "duplicate-elements")
}

func TestTxnInternal(t *testing.T) {
	var b txnHB
	b.txn(0, history.OK, txAppend(1, 1), txReadList(1))
	r := Txn(b.h, "list-append", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "internal")

	var c txnHB
	c.txn(0, history.OK, txAppend(1, 5))
	c.txn(1, history.OK, txReadList(1, 5), txAppend(1, 6), txReadList(1, 5, 6))
	c.txn(2, history.OK, txReadList(1, 5), txAppend(1, 7), txReadList(1, 5))
	r = Txn(c.h, "list-append", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "internal")
	wantContains(t, a.Explanation, "T4")
	wantEqual(t, 1, txnDetails(t, r).Counts["internal"])

	var d txnHB
	d.txn(0, history.OK, txWrite(1, 1), txReadNil(1))
	r = Txn(d.h, "rw-register", []string{"read-uncommitted"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "internal")
}

func TestTxnDirtyUpdate(t *testing.T) {
	var b txnHB
	b.txn(0, history.Fail, txAppend(1, 1))
	b.txn(1, history.OK, txAppend(1, 2))
	b.txn(2, history.OK, txReadList(1, 1, 2))
	r := Txn(b.h, "list-append", []string{"read-committed"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "dirty-update")
	txRequireAnomaly(t, r, "G1a")
}

func TestTxnSerialValid(t *testing.T) {
	var b txnHB
	b.txn(0, history.OK, txReadList(1), txAppend(1, 1), txReadList(1, 1))
	b.txn(1, history.OK, txAppend(1, 2), txAppend(2, 1))
	b.txn(0, history.OK, txReadList(1, 1, 2), txReadList(2, 1))
	b.txn(2, history.Fail, txAppend(2, 9))
	b.txn(1, history.OK, txReadList(2, 1), txAppend(2, 2), txReadList(3))
	b.invoke(3, history.Txn{txAppend(3, 1)}) // never completes, never seen
	r := Txn(b.h, "list-append", nil)
	wantEqual(t, Valid, r.Valid, r.Summary)
	wantEqual(t, 0, len(txnDetails(t, r).AnomalyTypes), txnDetails(t, r).AnomalyTypes)

	var c txnHB
	c.txn(0, history.OK, txReadNil(1), txWrite(1, 1))
	c.txn(1, history.OK, txReadReg(1, 1), txWrite(1, 2), txWrite(2, 1))
	c.txn(0, history.OK, txReadReg(1, 2), txReadReg(2, 1))
	c.txn(2, history.Fail, txWrite(2, 9))
	c.txn(1, history.OK, txReadReg(2, 1), txWrite(2, 2), txReadReg(2, 2))
	r = Txn(c.h, "rw-register", nil)
	wantEqual(t, Valid, r.Valid, r.Summary)
	wantEqual(t, 0, len(txnDetails(t, r).AnomalyTypes), txnDetails(t, r).AnomalyTypes)
}

func TestTxnInfoObserved(t *testing.T) {
	// An indeterminate append that someone read took effect: it joins the
	// order and its edges count.
	var b txnHB
	b.invoke(0, history.Txn{txAppend(1, 1), txAppend(2, 1)})
	b.complete(0, history.Info, nil)
	b.invoke(1, history.Txn{txAppend(1, 2), txAppend(2, 2)})
	b.complete(1, history.OK, history.Txn{txAppend(1, 2), txAppend(2, 2)})
	b.txn(2, history.OK, txReadList(1, 1, 2))
	b.txn(3, history.OK, txReadList(2, 2, 1))
	r := Txn(b.h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "G0")
}

func TestTxnJSONValues(t *testing.T) {
	// Values decoded from JSON arrive as []any of json.Number or float64.
	var b txnHB
	b.txn(0, history.OK, txAppend(1, 1))
	b.txn(1, history.OK, history.MicroOp{F: "r", Key: 1, Value: []any{json.Number("1")}})
	b.txn(2, history.OK, history.MicroOp{F: "r", Key: 1, Value: []any{float64(1), float64(1)}})
	r := Txn(b.h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid)
	txRequireAnomaly(t, r, "duplicate-elements")
	wantEqual(t, 1, txnDetails(t, r).Counts["duplicate-elements"])
}

func TestTxnUnknownModel(t *testing.T) {
	r := Txn(txnG0Append(), "list-append", []string{"serializable", "linearizable-ish"})
	wantEqual(t, Unknown, r.Valid)
	wantContains(t, r.Summary, `"linearizable-ish"`)
	wantContains(t, r.Summary, "strict-serializable")
	wantContains(t, r.Summary, "read-committed")

	r = Txn(txnG0Append(), "list-append", []string{"a,b"})
	wantEqual(t, Unknown, r.Valid)

	r = Txn(txnG0Append(), "set", nil)
	wantEqual(t, Unknown, r.Valid)
	wantContains(t, r.Summary, "list-append")
}

func TestTxnAliases(t *testing.T) {
	for _, m := range []string{"PL-SS", "strong-serializable", "PL-3", "conflict-serializable", "PL-2", "PL-1", "PL-SI", "PL-2.99"} {
		wantEqual(t, Invalid, Txn(txnG0Append(), "list-append", []string{m}).Valid, m)
	}
	wantEqual(t, Valid, Txn(txnGSingle(), "list-append", []string{"PL-2"}).Valid)
}

func TestTxnNothingCommitted(t *testing.T) {
	var b txnHB
	b.txn(0, history.Fail, txAppend(1, 1))
	wantEqual(t, Unknown, Txn(b.h, "list-append", nil).Valid)
	wantEqual(t, Unknown, Txn(nil, "rw-register", nil).Valid)
}

func TestTxnSearchCutIsUnknown(t *testing.T) {
	h := txnWriteSkew()
	c := newTxnCheck(h)
	an := analyzeAppend(c)
	c.addProcessEdges()
	c.addRealtimeEdges(len(h))
	s := newCycleSearch(c, an, 0) // a deadline long past
	s.run(true, true)
	mustTrue(t, s.cut)
	ms, err := resolveModels(nil)
	mustTrue(t, err == nil, "%v", err)
	r := c.verdict("list-append", ms, s.cut)
	wantEqual(t, Unknown, r.Valid, r.Summary)
	wantTrue(t, txnDetails(t, r).SearchCut)

	// An anomaly found before the cut still makes the verdict invalid.
	c = newTxnCheck(txnG0Append())
	analyzeAppend(c)
	c.report(TxnAnomaly{Type: "G1a", Explanation: "x"})
	r = c.verdict("list-append", ms, true)
	wantEqual(t, Invalid, r.Valid)
}

func TestTxnModelsForbid(t *testing.T) {
	cases := []struct {
		model, anomaly string
		forbids        bool
	}{
		{"read-uncommitted", "G0", true},
		{"read-uncommitted", "G1a", false},
		{"read-committed", "G1c", true},
		{"read-committed", "G-single", false},
		{"repeatable-read", "G-single", true},
		{"repeatable-read", "G2-item", true},
		{"snapshot-isolation", "G2-item", false},
		{"snapshot-isolation", "G-single", true},
		{"snapshot-isolation", "G-nonadjacent", true},
		{"serializable", "G2-item", true},
		{"serializable", "G-single-realtime", false},
		{"serializable", "G0-process", false},
		{"strong-session-serializable", "G0-process", true},
		{"strong-session-serializable", "G2-item-realtime", false},
		{"strict-serializable", "G2-item-realtime", true},
		{"strict-serializable", "G1c-realtime", true},
		{"strong-snapshot-isolation", "G-single-realtime", true},
		{"strong-snapshot-isolation", "G2-item-realtime", false},
		{"read-committed", "dirty-update", true},
		{"read-uncommitted", "internal", true},
	}
	for _, tc := range cases {
		wantEqual(t, tc.forbids, modelRules(tc.model, tc.anomaly), "%s forbids %s", tc.model, tc.anomaly)
	}
}

func TestTxnExplanationNamesTransactions(t *testing.T) {
	r := Txn(txnG0Append(), "list-append", nil)
	a := txRequireAnomaly(t, r, "G0")
	// Each step names the transaction's process, node, time and micro-ops.
	wantContains(t, a.Explanation, "T0 (p0 n0, invoked 0.001s, ok 0.003s) [[append 1 1] [append 2 1]]")
	wantTrue(t, strings.HasPrefix(a.Explanation, "G0, a write cycle"), a.Explanation)
	wantEqual(t, 0, a.Cycle[0].Txn.Process)
	wantEqual(t, "n0", a.Cycle[0].Txn.Node)
}

func TestTxnUnreadAppends(t *testing.T) {
	// Write skew that no later read reveals: each committed append is in
	// the list, after the empty lists both transactions read.
	var b txnHB
	b.invoke(0, history.Txn{txReadList(1), txAppend(2, 1)})
	b.invoke(1, history.Txn{txReadList(2), txAppend(1, 1)})
	b.complete(0, history.OK, history.Txn{txReadList(1), txAppend(2, 1)})
	b.complete(1, history.OK, history.Txn{txReadList(2), txAppend(1, 1)})
	r := Txn(b.h, "list-append", []string{"serializable"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G2-item")
	wantContains(t, a.Explanation, "which no read shows and so came later")

	// A lost append: T2 read nothing and appended 3, yet later reads show
	// only T0's appends, so 3 came after them and T2 should have seen them.
	var c txnHB
	c.invoke(2, history.Txn{txReadList(1), txAppend(1, 3)})
	c.txn(0, history.OK, txAppend(1, 1), txAppend(1, 2))
	c.complete(2, history.OK, history.Txn{txReadList(1), txAppend(1, 3)})
	c.txn(1, history.OK, txReadList(1, 1, 2))
	r = Txn(c.h, "list-append", []string{"snapshot-isolation"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a = txRequireAnomaly(t, r, "G-single")
	wantContains(t, a.Explanation, "which no read shows, so it came after")

	// An indeterminate append nobody read may never have happened.
	var d txnHB
	d.invoke(2, history.Txn{txReadList(1), txAppend(1, 3)})
	d.txn(0, history.OK, txAppend(1, 1), txAppend(1, 2))
	d.complete(2, history.Info, nil)
	d.txn(1, history.OK, txReadList(1, 1, 2))
	r = Txn(d.h, "list-append", nil)
	wantEqual(t, Valid, r.Valid, r.Summary)
}

func TestTxnGNonadjacent(t *testing.T) {
	// T0 -rw-> T1 -wr-> T2 -rw-> T3 -wr-> T0: two rw edges, never adjacent.
	var b txnHB
	b.invoke(0, history.Txn{txReadList(1), txReadList(4)})
	b.invoke(1, history.Txn{txAppend(1, 1), txAppend(2, 1)})
	b.invoke(2, history.Txn{txReadList(2), txReadList(3)})
	b.invoke(3, history.Txn{txAppend(3, 1), txAppend(4, 1)})
	b.complete(1, history.OK, history.Txn{txAppend(1, 1), txAppend(2, 1)})
	b.complete(3, history.OK, history.Txn{txAppend(3, 1), txAppend(4, 1)})
	b.complete(0, history.OK, history.Txn{txReadList(1), txReadList(4, 1)})
	b.complete(2, history.OK, history.Txn{txReadList(2, 1), txReadList(3)})
	r := Txn(b.h, "list-append", []string{"snapshot-isolation"})
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G-nonadjacent")
	mustEqual(t, 4, len(a.Cycle))
	wantEqual(t, Invalid, Txn(b.h, "list-append", []string{"repeatable-read"}).Valid)
	wantEqual(t, Valid, Txn(b.h, "list-append", []string{"read-committed"}).Valid)
}

func TestTxnIndeterminateHasNoProcessSuccessor(t *testing.T) {
	// A process that reuses its id after an indeterminate transaction must
	// not order it: the append may have landed after the next read.
	var b txnHB
	b.invoke(0, history.Txn{txAppend(1, 1)})
	b.complete(0, history.Info, nil)
	b.txn(0, history.OK, txReadList(1))
	b.txn(1, history.OK, txReadList(1, 1))
	r := Txn(b.h, "list-append", []string{"strong-session-serializable"})
	wantEqual(t, Valid, r.Valid, r.Summary)
}

func TestTxnRealtimeVariants(t *testing.T) {
	// G1c-realtime: T0 read an append that T2 made only after T0 finished.
	var b txnHB
	b.txn(0, history.OK, txReadList(1, 1))
	b.txn(1, history.OK, txAppend(1, 1))
	r := Txn(b.h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "G1c-realtime")
	wantEqual(t, Valid, Txn(b.h, "list-append", []string{"serializable"}).Valid)

	// G0-realtime: T2's append landed before T0's though T0 finished
	// before T2 began.
	var c txnHB
	c.txn(0, history.OK, txAppend(1, 1))
	c.txn(1, history.OK, txAppend(1, 2))
	c.txn(2, history.OK, txReadList(1, 2, 1))
	r = Txn(c.h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid, r.Summary)
	a := txRequireAnomaly(t, r, "G0-realtime")
	wantContains(t, a.Explanation, "T0 appended 1 to key 1 after T2's 2")
	wantEqual(t, Valid, Txn(c.h, "list-append", []string{"serializable"}).Valid)
	wantEqual(t, Invalid, Txn(c.h, "list-append", []string{"strong-snapshot-isolation"}).Valid)
}

func TestTxnGenericJSONShapes(t *testing.T) {
	// A history read back from JSON carries micro-ops as [f key value]
	// triples of float64 and []any.
	h := history.History{
		{Index: 0, Type: history.Invoke, Process: 0, F: "txn", Value: []any{[]any{"append", float64(1), float64(1)}, []any{"append", float64(2), float64(1)}}},
		{Index: 1, Type: history.Invoke, Process: 1, F: "txn", Value: []any{[]any{"append", float64(1), float64(2)}, []any{"append", float64(2), float64(2)}}},
		{Index: 2, Type: history.OK, Process: 0, F: "txn", Value: []any{[]any{"append", float64(1), float64(1)}, []any{"append", float64(2), float64(1)}}},
		{Index: 3, Type: history.OK, Process: 1, F: "txn", Value: []any{[]any{"append", float64(1), float64(2)}, []any{"append", float64(2), float64(2)}}},
		{Index: 4, Type: history.Invoke, Process: 2, F: "txn", Value: []any{[]any{"r", float64(1), nil}, map[string]any{"f": "r", "key": float64(2), "value": nil}}},
		{Index: 5, Type: history.OK, Process: 2, F: "txn", Value: []any{[]any{"r", float64(1), []any{float64(1), float64(2)}}, map[string]any{"f": "r", "key": float64(2), "value": []any{float64(2), float64(1)}}}},
	}
	r := Txn(h, "list-append", nil)
	mustEqual(t, Invalid, r.Valid, r.Summary)
	txRequireAnomaly(t, r, "G0")

	// A value that is no transaction at all must not pass as empty.
	bad := history.History{
		{Index: 0, Type: history.Invoke, Process: 0, F: "txn", Value: "append 1 1"},
		{Index: 1, Type: history.OK, Process: 0, F: "txn", Value: "append 1 1"},
	}
	r = Txn(bad, "list-append", nil)
	wantEqual(t, Unknown, r.Valid, r.Summary)
	wantContains(t, r.Summary, "not transactions")
}

// A read of 0 for a key nobody wrote is the initial state, as in Elle:
// the same verdict as reading nil, with a warning; strict, a garbage
// read. Two different unwritten values of one key cannot both be the
// initial state: both are garbage reads.
func TestTxnRegisterInitialReads(t *testing.T) {
	skew := func(initial any) history.History {
		var b txnHB
		r1 := history.MicroOp{F: "r", Key: 1, Value: initial}
		r2 := history.MicroOp{F: "r", Key: 2, Value: initial}
		b.invoke(0, history.Txn{txReadNil(1), txWrite(2, 1)})
		b.invoke(1, history.Txn{txReadNil(2), txWrite(1, 1)})
		b.complete(0, history.OK, history.Txn{r1, txWrite(2, 1)})
		b.complete(1, history.OK, history.Txn{r2, txWrite(1, 1)})
		return b.h
	}
	withNil := Txn(skew(nil), "rw-register", []string{"serializable"})
	withZero := Txn(skew(int64(0)), "rw-register", []string{"serializable"})
	mustEqual(t, Invalid, withNil.Valid, withNil.Summary)
	wantEqual(t, withNil.Details.(TxnDetails).AnomalyTypes, withZero.Details.(TxnDetails).AnomalyTypes)
	wantEqual(t, 2, withZero.Details.(TxnDetails).InitialReads)
	mustTrue(t, len(withZero.Warnings) == 1, "no warning")
	wantContains(t, withZero.Warnings[0], "read key 1 as 0")
	wantEqual(t, Valid, Txn(skew(int64(0)), "rw-register", []string{"read-committed"}).Valid)

	strict := TxnWith(skew(int64(0)), "rw-register", []string{"read-committed"}, TxnOptions{StrictInitialReads: true})
	mustEqual(t, Invalid, strict.Valid, strict.Summary)
	txRequireAnomaly(t, strict, "garbage-read")

	var b txnHB
	b.invoke(0, history.Txn{txReadNil(1)})
	b.invoke(1, history.Txn{txReadNil(1)})
	b.complete(0, history.OK, history.Txn{txReadReg(1, 0)})
	b.complete(1, history.OK, history.Txn{txReadReg(1, 7)})
	two := Txn(b.h, "rw-register", []string{"read-uncommitted"})
	mustEqual(t, Invalid, two.Valid, two.Summary)
	wantEqual(t, 2, two.Details.(TxnDetails).Counts["garbage-read"])
}
