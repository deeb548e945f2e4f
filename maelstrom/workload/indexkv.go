package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// index-kv (ours, the indexes track): a key-value store with range scans
// and a secondary index. Keys are integers 0..keys-1; every put writes a
// fresh value, so that a value names the put that wrote it; a value's
// secondary attribute is checker.IndexAttr(value) ("a0".."a3"), sent along.
//
//	{"type":"put","key":K,"value":V,"attr":"a1"}  -> {"type":"put_ok"}
//	{"type":"get","key":K}                        -> {"type":"get_ok","value":V}   (null: absent)
//	{"type":"delete","key":K}                     -> {"type":"delete_ok"}
//	{"type":"scan","from":A,"to":B,"limit":L}     -> {"type":"scan_ok","items":[[K,V],...]}
//	{"type":"query","attr":"a1"}                  -> {"type":"query_ok","keys":[K,...]}
//
// scan returns the first L keys present in [A, B) in ascending order with
// their values. query returns the keys whose current value has the
// attribute, in any order. Deleting an absent key is fine (delete_ok).
//
// Checks: put, get and delete are linearizable per key (a delete is a
// write of null); scans and queries, per key covered, answer with a state
// the key could have had during the operation (checker.IndexKV), with
// --query-lag widening the window of queries for asynchronous indexes.
// History values: put/get/delete history.KV, scan checker.IndexScan,
// query checker.IndexQuery.
func indexKVSpec() Spec {
	return Spec{Name: "index-kv", Description: "a key-value store with range scans and a secondary index", Reusable: true,
		Timeout: func(lat time.Duration) time.Duration { return max(20*lat, 2*time.Second) },
		Flags: []Flag{
			{Name: "keys", Default: "16", Usage: "how many keys (0..keys-1) the workload uses"},
			{Name: "query-lag", Default: "0", Usage: "milliseconds a secondary-index query may lag behind writes"},
		},
		New: func(p Params) (Instance, error) {
			keys, err := strconv.Atoi(p.Flags["keys"])
			if err != nil || keys < 1 {
				return nil, fmt.Errorf("--keys must be a positive integer, got %q", p.Flags["keys"])
			}
			lag, err := strconv.Atoi(p.Flags["query-lag"])
			if err != nil || lag < 0 {
				return nil, fmt.Errorf("--query-lag must be a non-negative integer of milliseconds, got %q", p.Flags["query-lag"])
			}
			return &indexKV{p: p, keys: int64(keys), lag: time.Duration(lag) * time.Millisecond}, nil
		}}
}

func init() { Register(indexKVSpec) }

type indexKV struct {
	noSetup
	p    Params
	keys int64
	lag  time.Duration
	next int64
}

func (w *indexKV) Next(int, int) Invocation {
	r := w.p.Rand
	k := r.Int64N(w.keys)
	switch n := r.IntN(100); {
	case n < 35:
		w.next++
		v := w.next
		return Invocation{F: "put", Value: history.KV{Key: k, Value: &v}}
	case n < 60:
		return Invocation{F: "get", Value: history.KV{Key: k}}
	case n < 72:
		return Invocation{F: "delete", Value: history.KV{Key: k}}
	case n < 88:
		return Invocation{F: "scan", Value: checker.IndexScan{From: k, To: k + 1 + r.Int64N(w.keys), Limit: 1 + r.IntN(8)}}
	default:
		return Invocation{F: "query", Value: checker.IndexQuery{Attr: checker.IndexAttr(r.Int64N(checker.IndexAttrs))}}
	}
}

func (w *indexKV) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	var body map[string]any
	switch v := inv.Value.(type) {
	case history.KV:
		body = map[string]any{"type": inv.F, "key": v.Key}
		if inv.F == "put" {
			body["value"], body["attr"] = *v.Value, checker.IndexAttr(*v.Value)
		}
	case checker.IndexScan:
		body = map[string]any{"type": "scan", "from": v.From, "to": v.To, "limit": v.Limit}
	case checker.IndexQuery:
		body = map[string]any{"type": "query", "attr": v.Attr}
	}
	idem := inv.F != "put" && inv.F != "delete"
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, idem)
	}
	switch inv.F {
	case "put", "delete":
		if _, err := Decode(raw, inv.F+"_ok"); err != nil {
			return Outcome(err, true, idem)
		}
		return ok(inv.Value)
	case "get":
		m, err := Decode(raw, "get_ok", Field{Name: "value"})
		if err != nil {
			return Outcome(err, true, idem)
		}
		var v *int64
		if err := json.Unmarshal(m["value"], &v); err != nil {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("get value must be an integer or null, got %s", m["value"])}, true, idem)
		}
		kv := inv.Value.(history.KV)
		kv.Value = v
		return ok(kv)
	case "scan":
		m, err := Decode(raw, "scan_ok", Field{Name: "items"})
		if err != nil {
			return Outcome(err, true, idem)
		}
		s := inv.Value.(checker.IndexScan)
		if err := json.Unmarshal(m["items"], &s.Items); err != nil {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("scan items must be [[key, value], ...] integer pairs, got %s", truncate(string(m["items"]), 80))}, true, idem)
		}
		return ok(s)
	default:
		m, err := Decode(raw, "query_ok", Field{Name: "keys"})
		if err != nil {
			return Outcome(err, true, idem)
		}
		q := inv.Value.(checker.IndexQuery)
		if q.Keys, err = decodeInts(m["keys"], "keys"); err != nil {
			return Outcome(err, true, idem)
		}
		return ok(q)
	}
}

func (w *indexKV) Check(h history.History) checker.Result {
	return checker.IndexKVLinearizable(h, linearizableBudget, w.p.OutDir)
}

func (w *indexKV) ExtraChecks(h history.History) []checker.Result {
	return []checker.Result{checker.IndexKV(h, w.lag)}
}
