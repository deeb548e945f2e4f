package workload

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func txnSpec(name string) Spec {
	var flags []Flag
	if name == "txn-rw-register" {
		flags = []Flag{{Name: "strict-initial-reads", Default: "false", Switch: true,
			Usage: "a read of a value nobody wrote is a garbage read, even when it looks like the key's initial state (by default, as Elle: a warning)"}}
	}
	return Spec{Name: name, Description: "transactions over registers or lists", Reusable: true, Flags: flags,
		New: func(p Params) (Instance, error) {
			if p.KeyCount <= 0 || p.MaxTxnLength <= 0 || p.MaxWritesPerKey <= 0 {
				return nil, fmt.Errorf("%s needs positive key-count, max-txn-length and max-writes-per-key", name)
			}
			w := &txn{p: p, appendF: "w", writes: map[int64]int64{}}
			if name == "txn-list-append" {
				w.appendF = "append"
			}
			for i := 0; i < p.KeyCount; i++ {
				w.active = append(w.active, int64(i))
			}
			w.nextKey = int64(p.KeyCount)
			return w, nil
		}}
}

// txn generates Elle-style transactions: a pool of active keys chosen with
// an exponential skew; each key takes values 1, 2, 3, ... and is retired
// after max-writes-per-key writes.
type txn struct {
	noSetup
	p       Params
	appendF string
	active  []int64
	writes  map[int64]int64
	nextKey int64
}

func (w *txn) Next(int, int) Invocation {
	n := 1 + w.p.Rand.IntN(w.p.MaxTxnLength)
	t := make(history.Txn, 0, n)
	for range n {
		i := min(int(w.p.Rand.ExpFloat64()*float64(len(w.active))/3), len(w.active)-1)
		k := w.active[i]
		if w.p.Rand.IntN(2) == 0 {
			t = append(t, history.MicroOp{F: "r", Key: k})
			continue
		}
		w.writes[k]++
		t = append(t, history.MicroOp{F: w.appendF, Key: k, Value: w.writes[k]})
		if w.writes[k] >= int64(w.p.MaxWritesPerKey) {
			w.active[i] = w.nextKey
			w.nextKey++
		}
	}
	return Invocation{F: "txn", Value: t}
}

func (w *txn) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	t := inv.Value.(history.Txn)
	wire := make([][]any, len(t))
	for i, m := range t {
		wire[i] = []any{m.F, m.Key, m.Value}
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "txn", "txn": wire})
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "txn_ok", Field{Name: "txn"})
	if err != nil {
		return Outcome(err, true, false)
	}
	got, err := w.decode(m["txn"], t)
	if err != nil {
		return Outcome(err, true, false)
	}
	return ok(got)
}

func (w *txn) decode(raw json.RawMessage, sent history.Txn) (history.Txn, error) {
	var ops [][]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, &MalformedError{Reason: "txn must be an array of [f, key, value] triples"}
	}
	if len(ops) != len(sent) {
		return nil, &MalformedError{Reason: fmt.Sprintf("txn_ok has %d micro-ops, the request had %d", len(ops), len(sent))}
	}
	out := make(history.Txn, len(sent))
	for i, op := range ops {
		var f string
		var k int64
		if len(op) != 3 || json.Unmarshal(op[0], &f) != nil || json.Unmarshal(op[1], &k) != nil || f != sent[i].F || k != sent[i].Key {
			return nil, &MalformedError{Reason: fmt.Sprintf("micro-op %d is %s, want [%q, %d, ...]", i, truncate(fmt.Sprint(op), 60), sent[i].F, sent[i].Key)}
		}
		out[i] = sent[i]
		if f != "r" {
			continue
		}
		if string(op[2]) == "null" {
			out[i].Value = nil
			continue
		}
		if w.appendF == "append" {
			vs, err := decodeInts(op[2], "list read")
			if err != nil {
				return nil, err
			}
			out[i].Value = vs
		} else {
			v, err := decodeInt(op[2], "register read")
			if err != nil {
				return nil, err
			}
			out[i].Value = v
		}
	}
	return out, nil
}

func (w *txn) Check(h history.History) checker.Result {
	kind := "rw-register"
	if w.appendF == "append" {
		kind = "list-append"
	}
	return checkTxn(h, kind, w.p.ConsistencyModels, checker.TxnOptions{StrictInitialReads: w.p.Flags["strict-initial-reads"] == "true"})
}
