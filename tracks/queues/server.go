package queues

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// defaultVisibility applies when a receive names none (SQS: 30 s).
const defaultVisibility = 30_000

// request is any queue request body.
type request struct {
	MsgID    uint64          `json:"msg_id"`
	Queue    string          `json:"queue"`
	Msg      json.RawMessage `json:"msg"`
	Group    string          `json:"group"`
	Dedup    string          `json:"dedup"`
	Max      int             `json:"max"`
	Vis      *int64          `json:"visibility_ms"`
	Receipts []string        `json:"receipts"`
}

type server struct {
	n *node.Node
	// log applies commands once durable: a raftnode.Driver (replicated) or
	// a journal (one node).
	log raftnode.Submitter
	o   Options
}

// SetupQueue serves the queue workload's send, receive, ack and extend on
// n: each request becomes a command in a log, Raft's (--replicate raft) or
// the node's own journal (--replicate none), and is applied by the
// machine.
func SetupQueue(n *node.Node, o Options) {
	m := newMachine(o.Delivery)
	var log raftnode.Submitter
	if o.Replicate == "none" {
		log = newJournal(n, m)
	} else {
		log = raftnode.New(n, o.Raft, m)
	}
	s := &server{n: n, log: log, o: o}
	node.HandleTyped(n, "send", s.send)
	node.HandleTyped(n, "receive", s.receive)
	node.HandleTyped(n, "ack", s.ack)
	node.HandleTyped(n, "extend", s.extend)
}

func malformed(format string, args ...any) error {
	return node.NewRPCError(node.MalformedRequest, fmt.Sprintf(format, args...))
}

func (s *server) send(msg node.Message, req request) (any, error) {
	if req.Queue == "" || len(req.Msg) == 0 {
		return nil, malformed("send needs a queue and a msg")
	}
	res, err := s.submit(msg, req, command{Op: "send", Body: req.Msg, Group: req.Group, Dedup: req.Dedup})
	if err != nil {
		return nil, err
	}
	return struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}{"send_ok", res.ID}, nil
}

func (s *server) receive(msg node.Message, req request) (any, error) {
	if req.Queue == "" {
		return nil, malformed("receive needs a queue")
	}
	vis := int64(defaultVisibility)
	if req.Vis != nil {
		vis = *req.Vis
	}
	if vis < 0 {
		return nil, malformed("visibility_ms must not be negative")
	}
	res, err := s.submit(msg, req, command{Op: "receive", Max: max(req.Max, 1), Vis: vis * int64(time.Millisecond)})
	if err != nil {
		return nil, err
	}
	if res.Msgs == nil {
		res.Msgs = []delivery{}
	}
	return struct {
		Type string     `json:"type"`
		Msgs []delivery `json:"msgs"`
	}{"receive_ok", res.Msgs}, nil
}

func (s *server) ack(msg node.Message, req request) (any, error) {
	if req.Queue == "" {
		return nil, malformed("ack needs a queue")
	}
	if _, err := s.submit(msg, req, command{Op: "ack", Receipts: req.Receipts}); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "ack_ok"}, nil
}

func (s *server) extend(msg node.Message, req request) (any, error) {
	if req.Queue == "" || req.Vis == nil || *req.Vis < 0 {
		return nil, malformed("extend needs a queue and a visibility_ms")
	}
	res, err := s.submit(msg, req, command{Op: "extend", Receipts: req.Receipts, Vis: *req.Vis * int64(time.Millisecond)})
	if err != nil {
		return nil, err
	}
	if res.Extended == nil {
		res.Extended = []string{}
	}
	return struct {
		Type     string   `json:"type"`
		Extended []string `json:"extended"`
	}{"extend_ok", res.Extended}, nil
}

// submit stamps a command with the client's session, the queue and this
// node's clock, puts it in the log through the leader and returns its
// outcome.
func (s *server) submit(msg node.Message, req request, c command) (outcome, error) {
	c.Client, c.Seq, c.Queue = msg.Src, req.MsgID, req.Queue
	c.Now = s.n.Clock().Now().UnixNano()
	data, err := json.Marshal(c)
	if err != nil {
		return outcome{}, err
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Deadline)
	defer cancel()
	var res outcome
	if err := raftnode.SubmitFor(ctx, s.log, data, &res); err != nil {
		return outcome{}, err
	}
	return res, nil
}
