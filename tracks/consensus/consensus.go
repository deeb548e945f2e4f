// Package consensus is the reference solution of the consensus track: Raft
// log replication. Clients append values through any node; the leader
// appends them to its log, replicates them (AppendEntries with the log
// matching check), commits an entry once a majority stores it and an entry
// of its own term is among them, and every node applies committed entries
// in order to its state machine, here the list of values itself. The log
// and the vote are persisted in the node's data directory before any
// message that depends on them is sent, so a killed node comes back with
// everything it promised; snapshots bound the log that must be kept.
//
// The algorithm is the shared Raft core (internal/raft) run by the shared
// driver (internal/raftnode). tracks/consensus/stages.tsv says how each
// stage is graded (workload log) and README.md is the lesson.
package consensus

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// DefaultConfig: 50 ms ticks, a heartbeat every 100 ms, a 500 ms to 1 s
// election timeout, pre-vote and check-quorum, a snapshot every 100
// applied entries.
func DefaultConfig() raftnode.Config {
	c := raftnode.DefaultConfig()
	c.SnapshotEvery = 100
	return c
}

// deadline bounds the work on one append; it stays below the workload's
// 1 s client timeout so that the client hears "timeout" from the node.
const deadline = 900 * time.Millisecond

const usage = "usage: consensus [--snapshot-every N] [--ack-early] [--volatile] [--tick D] [--election-ticks E] [--heartbeat-ticks H]"

// ParseArgs reads the node's flags on top of DefaultConfig.
func ParseArgs(args []string) (Options, error) {
	o := Options{Raft: DefaultConfig()}
	fs := nodeflags.New("consensus")
	o.Raft.RegisterFlags(fs)
	fs.BoolVar(&o.AckEarly, "ack-early", false, "counter-example: the leader acknowledges an append before it is committed")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	return o, nil
}

// Options configure a consensus node.
type Options struct {
	Raft raftnode.Config
	// AckEarly is the counter-example: the leader answers append_ok as
	// soon as the entry is in its own log, before a majority stores it.
	AckEarly bool
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// Setup serves the log workload's append and read_log on n.
func Setup(n *node.Node, o Options) *raftnode.Driver {
	sm := &valueLog{}
	d := raftnode.New(n, o.Raft, sm)
	node.HandleTyped(n, "append", func(msg node.Message, req appendReq) (any, error) {
		data, err := json.Marshal(entry{Client: msg.Src, Seq: req.MsgID, Value: req.Value})
		if err != nil {
			return nil, err
		}
		if o.AckEarly {
			index := 0
			err := d.ProposeUnconfirmed(data, func(ahead int) { index = len(sm.Values) + ahead })
			if err == nil {
				return appendOK{Type: "append_ok", Index: index}, nil
			}
		}
		ctx, cancel := context.WithTimeout(n.Context(), deadline)
		defer cancel()
		raw, err := d.Submit(ctx, data)
		if err != nil {
			return nil, raftnode.RPCError(err)
		}
		var res appendResult
		if err := json.Unmarshal(raw, &res); err != nil || res.Index == 0 {
			// Only a stale duplicate has no index, and its client is gone.
			return nil, node.NewRPCError(node.Abort, "stale duplicate request")
		}
		return appendOK{Type: "append_ok", Index: res.Index}, nil
	})
	node.HandleTyped(n, "read_log", func(node.Message, struct{}) (any, error) {
		var log []int64
		d.View(func() { log = slices.Clone(sm.Values) })
		if log == nil {
			log = []int64{}
		}
		return struct {
			Type string  `json:"type"`
			Log  []int64 `json:"log"`
		}{"read_log_ok", log}, nil
	})
	return d
}

type appendOK struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type appendReq struct {
	MsgID uint64 `json:"msg_id"`
	Value int64  `json:"value"`
}

// entry is one log entry's data: a value and who appended it.
type entry struct {
	Client string `json:"client"`
	Seq    uint64 `json:"seq"`
	Value  int64  `json:"value"`
}

type appendResult struct {
	Index int `json:"index"`
}

// valueLog is the state machine: the values in log order, and the session
// table that keeps a retried append from being applied twice.
type valueLog struct {
	Values   []int64           `json:"values"`
	Sessions raftnode.Sessions `json:"sessions"`
}

func (l *valueLog) Apply(_ uint64, data []byte) any {
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return appendResult{}
	}
	return l.Sessions.Apply(e.Client, e.Seq, func() any {
		l.Values = append(l.Values, e.Value)
		return appendResult{Index: len(l.Values)}
	})
}

func (l *valueLog) Snapshot() ([]byte, error) { return json.Marshal(l) }

func (l *valueLog) Restore(data []byte) error {
	var fresh valueLog
	if err := json.Unmarshal(data, &fresh); err != nil {
		return err
	}
	*l = fresh
	return nil
}
