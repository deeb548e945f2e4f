package workload

import (
	"context"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// log (ours, the consensus track): clients append unique integers to one
// replicated log through any node and read each node's applied log.
//
//	{"type":"append","value":V} -> {"type":"append_ok","index":I}
//	{"type":"read_log"}         -> {"type":"read_log_ok","log":[V1,V2,...]}
//
// index is V's position in the log, from 1. A node that cannot append
// (not the leader and no leader to forward to) answers error 11, ideally
// naming the leader in the text; a node that does not know whether the
// append will be applied answers a timeout (code 0) or lets the request
// time out. read_log returns the node's applied log, in order.
//
// One op in ten is a read_log; after the main phase and the quiet period
// every worker reads its node's log once more (the final reads). History
// values: append invoke checker.LogAppend{Value}, ok with Index;
// read_log invoke nil, ok []int64.
func raftLogSpec() Spec {
	return Spec{Name: "log", Description: "a replicated log: append through any node, read each node's applied log",
		Reusable: true, Final: true,
		Timeout: func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		New:     func(p Params) (Instance, error) { return &raftLog{p: p}, nil }}
}

type raftLog struct {
	noSetup
	p    Params
	next int64
}

func (w *raftLog) Next(int, int) Invocation {
	if w.p.Rand.IntN(10) == 0 {
		return Invocation{F: "read_log"}
	}
	w.next++
	return Invocation{F: "append", Value: checker.LogAppend{Value: w.next}}
}

func (w *raftLog) Final(int) []Invocation { return []Invocation{{F: "read_log"}} }

func (w *raftLog) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	if inv.F == "read_log" {
		raw, err := c.RPC(ctx, map[string]any{"type": "read_log"})
		if err != nil {
			return Outcome(err, true, true)
		}
		m, err := Decode(raw, "read_log_ok", Field{Name: "log"})
		if err != nil {
			return Outcome(err, true, true)
		}
		l, err := decodeInts(m["log"], "log")
		if err != nil {
			return Outcome(err, true, true)
		}
		return ok(l)
	}
	a := inv.Value.(checker.LogAppend)
	raw, err := c.RPC(ctx, map[string]any{"type": "append", "value": a.Value})
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "append_ok", Field{Name: "index"})
	if err != nil {
		return Outcome(err, true, false)
	}
	i, err := decodeInt(m["index"], "index")
	if err != nil {
		return Outcome(err, true, false)
	}
	a.Index = &i
	return ok(a)
}

func (w *raftLog) Check(h history.History) checker.Result { return checkRaftLog(h) }
