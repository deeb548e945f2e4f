package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// linKVProcessLimit retires a key once this many processes touched it,
// as Jepsen's independent generator does, keeping per-key histories small
// enough for the linearizability search.
const linKVProcessLimit = 20

func linKVSpec() Spec {
	return Spec{Name: "lin-kv", Description: "a linearizable key-value store", Reusable: true,
		Timeout:               func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		ConcurrencyMultipleOf: func(nodes int) int { return 2 * nodes },
		New: func(p Params) (Instance, error) {
			return &linKV{p: p, groups: map[int]*kvGroup{}}, nil
		}}
}

type kvGroup struct {
	key   int64
	procs map[int]bool
}

// linKV splits threads into groups of 2N: in each group N threads read
// and N write or cas, all on the group's current key.
type linKV struct {
	noSetup
	p       Params
	groups  map[int]*kvGroup
	nextKey int64
}

func (w *linKV) Next(thread, process int) Invocation {
	size := 2 * len(w.p.NodeIDs)
	g := w.groups[thread/size]
	if g == nil || (!g.procs[process] && len(g.procs) >= linKVProcessLimit) {
		g = &kvGroup{key: w.nextKey, procs: map[int]bool{}}
		w.nextKey++
		w.groups[thread/size] = g
	}
	g.procs[process] = true
	if thread%size < size/2 {
		return Invocation{F: "read", Value: history.KV{Key: g.key}}
	}
	v := int64(w.p.Rand.IntN(5))
	if w.p.Rand.IntN(3) == 0 {
		return Invocation{F: "write", Value: history.KV{Key: g.key, Value: &v}}
	}
	from := int64(w.p.Rand.IntN(5))
	return Invocation{F: "cas", Value: history.KV{Key: g.key, From: &from, To: &v}}
}

func (w *linKV) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	kv := inv.Value.(history.KV)
	var body map[string]any
	switch inv.F {
	case "read":
		body = map[string]any{"type": "read", "key": kv.Key}
	case "write":
		body = map[string]any{"type": "write", "key": kv.Key, "value": *kv.Value}
	case "cas":
		body = map[string]any{"type": "cas", "key": kv.Key, "from": *kv.From, "to": *kv.To}
	}
	idem := inv.F == "read"
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, idem)
	}
	if inv.F != "read" {
		if _, err := Decode(raw, inv.F+"_ok"); err != nil {
			return Outcome(err, true, idem)
		}
		return ok(kv)
	}
	m, err := Decode(raw, "read_ok", Field{Name: "value"})
	if err != nil {
		return Outcome(err, true, idem)
	}
	var v *int64
	if err := json.Unmarshal(m["value"], &v); err != nil {
		return Outcome(&MalformedError{Reason: fmt.Sprintf("read value must be an integer or null, got %s", m["value"])}, true, idem)
	}
	kv.Value = v
	return ok(kv)
}

func (w *linKV) Check(h history.History) checker.Result { return checkLinearizable(h, w.p.OutDir) }

// LinKV returns the lin-kv workload's spec, for workloads (and tests) that
// drive a key-value store the same way under another name.
func LinKV() Spec { return linKVSpec() }
