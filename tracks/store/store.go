// Package store is the reference solution of the store track: a
// linearizable key-value store on Raft, graded by Maelstrom's lin-kv
// workload.
//
// Clients may talk to any node. Writes and compare-and-sets become log
// entries: a follower forwards them to the leader (internal/raftnode's
// Submit), which answers once the entry is applied. Each command carries
// its client's id and request number, so a command that reaches the log
// twice (a retry after a timeout or a leader change) is applied once and
// answered from the session table the second time. Reads do not enter the
// log: they wait for a ReadIndex (the leader proves it still leads with a
// round of heartbeats, and the node waits until it has applied that far),
// or, with --read lease, for nothing more than the leader's lease.
//
// tracks/store/stages.tsv says how each stage is graded and README.md is
// the lesson.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// Options configure a store node.
type Options struct {
	Raft raftnode.Config
	// Lease serves reads from the leader's lease instead of a ReadIndex
	// round (--read lease).
	Lease bool
	// Local is the counter-example (--read local): every node reads its
	// own map at once, however stale.
	Local bool
	// Deadline bounds how long a node works on one client request; it
	// stays below the lin-kv client timeout (1 s) so that the client gets
	// an answer, even if only "timeout".
	Deadline time.Duration
}

// DefaultOptions: 50 ms ticks, a heartbeat every 100 ms, a 500 ms to 1 s
// election timeout, pre-vote and check-quorum, a snapshot every 1000
// entries, ReadIndex reads.
func DefaultOptions() Options {
	return Options{
		Raft:     raftnode.DefaultConfig(),
		Deadline: 900 * time.Millisecond,
	}
}

const usage = "usage: store [--read index|lease|local] [--tick D] [--election-ticks E] [--heartbeat-ticks H] [--snapshot-every N]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("store")
	o.Raft.RegisterFlags(fs)
	read := fs.String("read", "index", "how reads are made linearizable: index (ReadIndex), lease (leader lease; assumes bounded clock drift) or local (counter-example: not linearizable)")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *read {
	case "index":
	case "lease":
		o.Lease, o.Raft.LeaseRead = true, true
	case "local":
		o.Local = true
	default:
		return o, fmt.Errorf("store: --read %q: want index, lease or local", *read)
	}
	return o, nil
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

// Setup serves lin-kv's read, write and cas on n.
func Setup(n *node.Node, o Options) *raftnode.Driver {
	kv := NewKV()
	d := raftnode.New(n, o.Raft, kv)
	s := &server{n: n, d: d, kv: kv, deadline: o.Deadline, local: o.Local}
	node.HandleTyped(n, "read", s.read)
	node.HandleTyped(n, "write", s.write)
	node.HandleTyped(n, "cas", s.cas)
	return d
}

type server struct {
	n        *node.Node
	d        *raftnode.Driver
	kv       *KV
	deadline time.Duration
	local    bool
}

type request struct {
	MsgID uint64          `json:"msg_id"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

func (s *server) read(_ node.Message, req request) (any, error) {
	ctx, cancel := context.WithTimeout(s.n.Context(), s.deadline)
	defer cancel()
	key := Canonical(req.Key)
	if s.local {
		var v json.RawMessage
		s.d.View(func() { v = s.kv.Get(key) })
		return struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		}{"read_ok", v}, nil
	}
	// The read function runs inside the driver once the state machine has
	// applied the read index, so it sees a linearizable state.
	raw, err := s.d.Read(ctx, func() any { return s.kv.Get(key) })
	if err != nil {
		return nil, raftnode.RPCError(err)
	}
	return struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}{"read_ok", raw}, nil
}

func (s *server) write(msg node.Message, req request) (any, error) {
	return s.submit(msg, Command{Op: "write", Key: Canonical(req.Key), Value: req.Value}, req.MsgID, "write_ok")
}

func (s *server) cas(msg node.Message, req request) (any, error) {
	return s.submit(msg, Command{Op: "cas", Key: Canonical(req.Key), From: req.From, To: req.To}, req.MsgID, "cas_ok")
}

// submit puts a command in the log through the leader and turns its result
// into the reply.
func (s *server) submit(msg node.Message, c Command, seq uint64, okType string) (any, error) {
	c.Client, c.Seq = msg.Src, seq
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.deadline)
	defer cancel()
	if err := raftnode.SubmitFor(ctx, s.d, data, &Outcome{}); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: okType}, nil
}
