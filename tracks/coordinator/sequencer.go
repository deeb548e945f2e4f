package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// sequencer is a Calvin-style transactional store for txn-list-append:
// transactions are not coordinated at all while they run. A Raft log
// (internal/raftnode) puts every transaction into one global order first;
// every node then executes the log deterministically, one transaction at
// a time, against its copy of the lists. The same order everywhere, and
// no transaction executing until it is in that order, make the execution
// serial; the log's order respects real time (an entry is appended after
// every entry committed before it was proposed), so the history is strict
// serializable. The price is one consensus round per transaction, and
// none of them can abort: what Calvin buys by knowing read and write sets
// up front.
//
// Here every node holds every key (one Raft group); Calvin proper shards
// the keys over groups and has the sequencer's order replicated to each.
type sequencer struct {
	n        *node.Node
	d        *raftnode.Driver
	deadline time.Duration
}

// lists is the replicated state machine: the lists and the session table
// that makes a retried proposal apply once.
type lists struct {
	Lists    map[string][]int64 `json:"lists"`
	Sessions raftnode.Sessions  `json:"sessions"`
}

type seqCommand struct {
	Client string               `json:"client"`
	Seq    uint64               `json:"seq"`
	Txn    [][3]json.RawMessage `json:"txn"`
}

func setupSequencer(n *node.Node) {
	sm := &lists{Lists: map[string][]int64{}}
	s := &sequencer{n: n, d: raftnode.New(n, raftnode.DefaultConfig(), sm), deadline: 4 * time.Second}
	node.HandleTyped(n, "txn", s.txn)
}

type seqRequest struct {
	MsgID uint64               `json:"msg_id"`
	Txn   [][3]json.RawMessage `json:"txn"`
}

func (s *sequencer) txn(msg node.Message, req seqRequest) (any, error) {
	data, err := json.Marshal(seqCommand{Client: msg.Src, Seq: req.MsgID, Txn: req.Txn})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.deadline)
	defer cancel()
	raw, err := s.d.Submit(ctx, data)
	if err != nil {
		return nil, raftnode.RPCError(err)
	}
	var res struct {
		Txn   [][3]json.RawMessage `json:"txn"`
		Error string               `json:"error"`
		Stale bool                 `json:"stale"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode result %s: %w", raw, err)
	}
	switch {
	case res.Stale:
		return nil, node.NewRPCError(node.Abort, "stale duplicate request")
	case res.Error != "":
		return nil, node.NewRPCError(node.MalformedRequest, res.Error)
	}
	return txnOK{Type: "txn_ok", Txn: res.Txn}, nil
}

func (l *lists) Apply(_ uint64, data []byte) any {
	var c seqCommand
	if err := json.Unmarshal(data, &c); err != nil {
		return map[string]string{"error": "undecodable command: " + err.Error()}
	}
	return l.Sessions.Apply(c.Client, c.Seq, func() any { return l.exec(c.Txn) })
}

// exec runs one transaction; it must be deterministic (every node runs it).
func (l *lists) exec(t [][3]json.RawMessage) any {
	out := make([][3]json.RawMessage, len(t))
	for i, m := range t {
		var f string
		if json.Unmarshal(m[0], &f) != nil {
			return map[string]string{"error": fmt.Sprintf("micro-op %d has no function", i)}
		}
		key := string(m[1])
		out[i] = m
		switch f {
		case "r":
			if v, ok := l.Lists[key]; ok {
				out[i][2], _ = json.Marshal(v)
			} else {
				out[i][2] = null
			}
		case "append":
			var v int64
			if json.Unmarshal(m[2], &v) != nil {
				return map[string]string{"error": fmt.Sprintf("micro-op %d appends a non-integer", i)}
			}
			l.Lists[key] = append(l.Lists[key], v)
		default:
			return map[string]string{"error": fmt.Sprintf("micro-op %d: unknown function %q", i, f)}
		}
	}
	return map[string]any{"txn": out}
}

func (l *lists) Snapshot() ([]byte, error) { return json.Marshal(l) }

func (l *lists) Restore(data []byte) error {
	fresh := &lists{Lists: map[string][]int64{}}
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	*l = *fresh
	return nil
}
