// Package timekeeper is the reference solution of the timekeeper track:
// ordering events across nodes that share no clock. Each stage stamps
// events with a different clock — the node's physical clock, a Lamport
// clock, a vector clock, a hybrid logical clock — built on
// internal/clocks, and the grader's clocks workload checks the stamps
// against the true happens-before relation, which it knows because it
// carries every message.
//
// A node records three kinds of event: local events and sends, which
// clients ask for, and receipts of other nodes' messages. It keeps them in
// a log, in the order it stamped them, which the grader reads at the end.
// README.md is the lesson; stages.tsv says how each stage is graded.
package timekeeper

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/clocks"
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/program"
)

// Stages lists the track's stages in order.
func Stages() []string { return []string{"wall", "lamport", "vector", "hlc"} }

// DefaultStage is the stage a node runs without --stage.
const DefaultStage = "hlc"

// Configure sets up a node for the stage named by its --stage argument:
// node.Main(Configure) is the process, node.Program(Configure) the
// in-process program the grader runs.
func Configure(n *node.Node) error {
	fs := nodeflags.New("timekeeper")
	stage := fs.String("stage", DefaultStage, "stage to run: wall, lamport, vector or hlc")
	usage := "usage: timekeeper [--stage wall|lamport|vector|hlc]"
	if err := nodeflags.Parse(fs, n.Args(), usage); err != nil {
		return err
	}
	return Setup(*stage)(n)
}

// Setup returns the setup function of one stage.
func Setup(stage string) func(*node.Node) error {
	return func(n *node.Node) error {
		clock, ok := Strategies()[stage]
		if !ok {
			return fmt.Errorf("timekeeper: unknown stage %q (stages: %v)", stage, Stages())
		}
		With(clock)(n)
		return nil
	}
}

// Clock is a stage's timestamping strategy. Stamp gives a local or send
// event its timestamp; Receive gives the receipt of a message stamped
// remote (the JSON the sender put in the message) its timestamp. The
// keeper calls them one at a time, in log order.
type Clock interface {
	Stamp() any
	Receive(remote json.RawMessage) (any, error)
}

// NewClock makes a node's clock once its id and the cluster are known.
type NewClock func(id string, nodeIDs []string, physical program.Clock) Clock

// Strategies maps each stage to its clock.
func Strategies() map[string]NewClock {
	return map[string]NewClock{
		"wall":    func(_ string, _ []string, p program.Clock) Clock { return &Wall{clock: p} },
		"lamport": func(string, []string, program.Clock) Clock { return &Lamport{} },
		"vector":  func(id string, _ []string, _ program.Clock) Clock { return &Vector{c: clocks.NewVectorClock(id)} },
		// No maximum offset: a receipt the HLC refused would be a message
		// the node never logged (see the README).
		"hlc": func(_ string, _ []string, p program.Clock) Clock { return &HLC{c: clocks.NewHLC(p, 0)} },
	}
}

// Wall stamps events with the node's physical clock in nanoseconds, kept
// strictly increasing on each node, and ignores the sender's timestamp. It
// orders events correctly only while clocks agree: the clock nemesis
// shows it does not.
type Wall struct {
	clock program.Clock
	last  int64
}

func (w *Wall) Stamp() any {
	w.last = max(w.last+1, w.clock.Now().UnixNano())
	return w.last
}

func (w *Wall) Receive(json.RawMessage) (any, error) { return w.Stamp(), nil }

// Lamport is a Lamport clock: tick on every event, and on a receipt move
// past the sender's time first.
type Lamport struct{ c clocks.Lamport }

func (l *Lamport) Stamp() any { return l.c.Tick() }

func (l *Lamport) Receive(remote json.RawMessage) (any, error) {
	var t uint64
	if err := json.Unmarshal(remote, &t); err != nil {
		return nil, fmt.Errorf("lamport timestamp %s: %w", remote, err)
	}
	return l.c.Recv(t), nil
}

// Vector is a vector clock: tick the node's own entry on every event, and
// on a receipt merge the sender's vector (entry-wise maximum) first.
type Vector struct{ c *clocks.VectorClock }

func (v *Vector) Stamp() any { return v.c.Tick() }

func (v *Vector) Receive(remote json.RawMessage) (any, error) {
	var r clocks.Vector
	if err := json.Unmarshal(remote, &r); err != nil {
		return nil, fmt.Errorf("vector timestamp %s: %w", remote, err)
	}
	return v.c.Recv(r), nil
}

// HLC is a hybrid logical clock: physical time when it moves forward, a
// logical counter when it does not, and on a receipt the later of the
// local and the sender's time.
type HLC struct{ c *clocks.HLC }

func (h *HLC) Stamp() any { return h.c.Now() }

func (h *HLC) Receive(remote json.RawMessage) (any, error) {
	var r clocks.Timestamp
	if err := json.Unmarshal(remote, &r); err != nil {
		return nil, fmt.Errorf("hlc timestamp %s: %w", remote, err)
	}
	return h.c.Update(r)
}

// Event is one entry of a node's log, as the grader reads it.
type Event struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // local, send or recv
	TS    any    `json:"ts"`
	Cause string `json:"cause,omitempty"` // recv: the send event's id
}

// keeper stamps and logs a node's events. One lock covers stamping and
// appending, so the log lists events in the order their timestamps were
// taken: the node's own order, which the grader treats as true.
type keeper struct {
	n        *node.Node
	newClock NewClock

	mu    sync.Mutex
	clock Clock
	seq   int
	log   []Event
}

// With returns the setup of a node stamping events with newClock; a
// track's tests use it to grade deliberately broken clocks.
func With(newClock NewClock) func(*node.Node) {
	return func(n *node.Node) {
		k := &keeper{n: n, newClock: newClock}
		n.OnInit(func() error {
			k.mu.Lock()
			k.clock = newClock(n.ID(), n.NodeIDs(), n.Clock())
			k.mu.Unlock()
			return nil
		})
		node.HandleTyped(n, "event", k.event)
		node.HandleTyped(n, "send", k.send)
		node.HandleTyped(n, "stamp", k.stamp)
		node.HandleTyped(n, "log", k.readLog)
	}
}

// record stamps and logs one event.
func (k *keeper) record(kind, cause string, stamp func(Clock) (any, error)) (Event, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ts, err := stamp(k.clock)
	if err != nil {
		return Event{}, err
	}
	k.seq++
	e := Event{ID: fmt.Sprintf("%s-%d", k.n.ID(), k.seq), Kind: kind, TS: ts, Cause: cause}
	k.log = append(k.log, e)
	return e, nil
}

func stampLocal(c Clock) (any, error) { return c.Stamp(), nil }

type stampedReply struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	TS    any    `json:"ts"`
}

func (k *keeper) event(node.Message, struct{}) (any, error) {
	e, err := k.record("local", "", stampLocal)
	if err != nil {
		return nil, err
	}
	return stampedReply{Type: "event_ok", Event: e.ID, TS: e.TS}, nil
}

type sendRequest struct {
	To string `json:"to"`
}

// stampMessage is what one node sends another: the send event's id and
// timestamp.
type stampMessage struct {
	Type  string          `json:"type"`
	Event string          `json:"event"`
	TS    json.RawMessage `json:"ts"`
}

func (k *keeper) send(_ node.Message, req sendRequest) (any, error) {
	if req.To == k.n.ID() || !slices.Contains(k.n.NodeIDs(), req.To) {
		return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("send: %q is not another node of the cluster", req.To))
	}
	e, err := k.record("send", "", stampLocal)
	if err != nil {
		return nil, err
	}
	ts, err := json.Marshal(e.TS)
	if err != nil {
		return nil, err
	}
	if err := k.n.Send(req.To, stampMessage{Type: "stamp", Event: e.ID, TS: ts}); err != nil {
		return nil, err
	}
	return stampedReply{Type: "send_ok", Event: e.ID, TS: e.TS}, nil
}

// stamp is the receipt of another node's message; nothing is answered.
func (k *keeper) stamp(m node.Message, msg stampMessage) (any, error) {
	_, err := k.record("recv", msg.Event, func(c Clock) (any, error) { return c.Receive(msg.TS) })
	if err != nil {
		k.n.Logger().Warn("receipt not recorded", "src", m.Src, "event", msg.Event, "err", err)
	}
	return nil, nil
}

type logReply struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

func (k *keeper) readLog(node.Message, struct{}) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return logReply{Type: "log_ok", Events: slices.Clone(k.log)}, nil
}
