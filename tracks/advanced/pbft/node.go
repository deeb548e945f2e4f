package pbft

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/program"
)

// This file is the driver: it connects the replica and client cores to a
// node (messages of type "pbft", lin-kv requests, a ticker). Everything
// above it is free of I/O and clocks.

// Options configure a PBFT node.
type Options struct {
	Tick            time.Duration // one tick of the cores' logical time
	TimeoutTicks    uint64        // request / view-change timeout, in ticks
	CheckpointEvery uint64
	Deadline        time.Duration // how long a client request may take
}

// DefaultOptions: 50 ms ticks, a view change after 6 ticks (300 ms) of a
// request not executing, a checkpoint every 8 requests, 900 ms per client
// request (below lin-kv's 1 s client timeout).
func DefaultOptions() Options {
	return Options{Tick: 50 * time.Millisecond, TimeoutTicks: 6, CheckpointEvery: 8, Deadline: 900 * time.Millisecond}
}

const usage = "usage: advanced --system pbft [--tick D] [--timeout-ticks N] [--checkpoint-every K] [--deadline D]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("pbft")
	fs.DurationVar(&o.Tick, "tick", o.Tick, "tick length")
	fs.Uint64Var(&o.TimeoutTicks, "timeout-ticks", o.TimeoutTicks, "request and view-change timeout in ticks")
	fs.Uint64Var(&o.CheckpointEvery, "checkpoint-every", o.CheckpointEvery, "sequence numbers between checkpoints")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.Tick <= 0 || o.TimeoutTicks == 0 || o.CheckpointEvery == 0 {
		return o, fmt.Errorf("pbft: --tick, --timeout-ticks and --checkpoint-every must be positive (%s)", usage)
	}
	return o, nil
}

// wireMsg is a Msg as a node message body: {"type":"pbft", ...Msg}.
type wireMsg struct {
	Type string `json:"type"`
	Msg
}

type driver struct {
	n    *node.Node
	opts Options

	mu      sync.Mutex
	rep     *Replica
	cli     *Client
	waiting map[string]chan []byte
	logged  int    // rejections last logged
	view    uint64 // view last logged
}

// Configure sets up a PBFT node: every node is a replica, and the
// client of the lin-kv requests it receives.
func Configure(n *node.Node, args []string) error {
	opts, err := ParseArgs(args)
	if err != nil {
		return err
	}
	d := &driver{n: n, opts: opts, waiting: map[string]chan []byte{}}
	n.OnInit(d.init)
	n.Handle("pbft", d.handlePBFT)
	for _, f := range []string{"read", "write", "cas"} {
		n.Handle(f, d.handleKV)
	}
	return nil
}

func (d *driver) init() error {
	keys, err := ParseKeys(d.n.ID(), d.n.Getenv(program.EnvNodeKey), d.n.Getenv(program.EnvNodeKeys))
	if err != nil {
		return fmt.Errorf("%w: the grader hands out keys in %s and %s", err, program.EnvNodeKey, program.EnvNodeKeys)
	}
	ids := d.n.NodeIDs()
	d.mu.Lock()
	d.rep = NewReplica(Config{ID: d.n.ID(), IDs: ids, Keys: keys, CheckpointEvery: d.opts.CheckpointEvery, TimeoutTicks: d.opts.TimeoutTicks})
	// The clock only seeds the timestamps, so that a restarted node's
	// requests are newer than its last incarnation's.
	d.cli = NewClient(d.n.ID(), ids, keys, uint64(d.n.Clock().Now().UnixNano()))
	d.cli.ResendTicks = 2 * d.opts.TimeoutTicks
	d.mu.Unlock()
	d.n.Every(d.opts.Tick, func(context.Context) {
		d.mu.Lock()
		out := append(d.rep.Tick(), d.cli.Tick()...)
		d.logStats()
		d.mu.Unlock()
		d.dispatch(out)
	})
	return nil
}

// logStats logs what the replica rejected, when that changed.
func (d *driver) logStats() {
	st := d.rep.Stats()
	total := 0
	for _, n := range st.Rejected {
		total += n
	}
	v, _ := d.rep.View()
	if v != d.view {
		d.view = v
		d.n.Logger().Info("pbft: new view", "view", v, "primary", d.rep.primary(v))
	}
	if total != d.logged {
		d.logged = total
		d.n.Logger().Info("pbft", "view", v, "rejected", st.Rejected, "equivocations", len(st.Equivocations))
	}
}

// dispatch sends messages; those addressed to this node are handled here
// at once.
func (d *driver) dispatch(out []Out) {
	self := d.n.ID()
	for len(out) > 0 {
		o := out[0]
		out = out[1:]
		targets := []string{o.To}
		if o.To == "" {
			targets = d.n.Peers()
		}
		for _, t := range targets {
			if t != self {
				_ = d.n.Send(t, wireMsg{Type: "pbft", Msg: o.M})
				continue
			}
			out = append(out, d.deliver(o.M)...)
		}
	}
}

func (d *driver) deliver(m Msg) []Out {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rep == nil {
		return nil
	}
	if m.Kind == KindReply {
		if slot, res, ok := d.cli.OnReply(m); ok {
			if ch := d.waiting[slot]; ch != nil {
				ch <- res
				delete(d.waiting, slot)
			}
		}
		return nil
	}
	return d.rep.Step(m)
}

func (d *driver) handlePBFT(msg node.Message) error {
	var w wireMsg
	if err := json.Unmarshal(msg.Body, &w); err != nil {
		return node.NewRPCError(node.MalformedRequest, "pbft: "+err.Error())
	}
	d.dispatch(d.deliver(w.Msg))
	return nil
}

type kvReq struct {
	Type  string          `json:"type"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

func compact(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

func (d *driver) handleKV(msg node.Message) error {
	var req kvReq
	if err := json.Unmarshal(msg.Body, &req); err != nil || len(req.Key) == 0 {
		return node.NewRPCError(node.MalformedRequest, "want key (and value, or from and to)")
	}
	op := Op{F: req.Type, Key: compact(req.Key), Value: compact(req.Value), From: compact(req.From), To: compact(req.To)}
	ch := make(chan []byte, 1)
	d.mu.Lock()
	if d.cli == nil {
		d.mu.Unlock()
		return node.NewRPCError(node.TemporarilyUnavailable, "not initialized")
	}
	slot, out := d.cli.Submit(op)
	d.waiting[slot] = ch
	d.mu.Unlock()
	d.dispatch(out)

	ctx, cancel := context.WithTimeout(d.n.Context(), d.opts.Deadline)
	defer cancel()
	select {
	case res := <-ch:
		var e errBody
		if json.Unmarshal(res, &e) == nil && e.Type == "error" {
			return node.NewRPCError(e.Code, e.Text)
		}
		return d.n.Reply(msg, json.RawMessage(res))
	case <-ctx.Done():
		d.mu.Lock()
		d.cli.Cancel(slot)
		delete(d.waiting, slot)
		d.mu.Unlock()
		return node.NewRPCError(node.Timeout, "no f+1 matching replies in time; the request may still execute")
	}
}
