package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

// NetworkView is the grader's network as a workload may read it: when it
// started, and every send and delivery so far (Spec.Journal keeps the
// journal even when nothing is stored).
type NetworkView interface {
	Start() time.Time
	Journal() []netsim.Event
}

// clockTolerance absorbs the difference between the grader's clock (the
// run's monotonic clock from its start) and a node process's wall clock,
// which NTP may slew by up to 500 ppm, when HLC walls are compared with
// true time; in-process they are one clock.
const clockTolerance = 25 * time.Millisecond

// clocks: the timekeeper track's workload (ours). Clients ask a node to
// record a local event ({"type":"event"} -> {"type":"event_ok","event":id,
// "ts":ts}) or to send a message to another node ({"type":"send","to":n}
// -> {"type":"send_ok","event":id,"ts":ts}); the node-to-node message must
// carry the send event's id in a top-level "event" field, and its receiver
// logs a recv event. In the final phase every node's log is read
// ({"type":"log"} -> {"type":"log_ok","events":[{"id","kind","ts",
// "cause"}...]}). The grader carries every message, so it knows the true
// happens-before relation and checks the timestamps against it
// (checker.Clocks). History values are checker.ClockOp and
// []checker.ClockEvent.
func clocksSpec() Spec {
	return Spec{Name: "clocks", Final: true, Journal: true,
		Description: "nodes timestamp local events, sends and receipts; the grader checks them against the true happens-before",
		New: func(p Params) (Instance, error) {
			if p.Timestamps != "" && !slices.Contains(checker.ClockKinds, p.Timestamps) {
				return nil, fmt.Errorf("--timestamps %q: want one of %s", p.Timestamps, strings.Join(checker.ClockKinds, ", "))
			}
			if p.Concurrency < len(p.NodeIDs) {
				return nil, fmt.Errorf("clocks reads every node's log through its own client: --concurrency must be at least the node count (%d), got %d", len(p.NodeIDs), p.Concurrency)
			}
			return &clocks{p: p}, nil
		}}
}

type clocks struct {
	noSetup
	p Params

	once    sync.Once
	results []checker.Result
}

// Next asks the worker's node for a local event or a send to another
// node. The runner binds thread t to node t mod N.
func (w *clocks) Next(thread, _ int) Invocation {
	ids := w.p.NodeIDs
	if len(ids) < 2 || w.p.Rand.IntN(2) == 0 {
		return Invocation{F: "event", Value: checker.ClockOp{}}
	}
	self := thread % len(ids)
	other := (self + 1 + w.p.Rand.IntN(len(ids)-1)) % len(ids)
	return Invocation{F: "send", Value: checker.ClockOp{To: ids[other]}}
}

// Final reads each node's log once, from the first N workers (one per node).
func (w *clocks) Final(thread int) []Invocation {
	if thread < len(w.p.NodeIDs) {
		return []Invocation{{F: "log"}}
	}
	return nil
}

func (w *clocks) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch inv.F {
	case "log":
		raw, err := c.RPC(ctx, map[string]any{"type": "log"})
		if err != nil {
			return Outcome(err, true, true)
		}
		m, err := Decode(raw, "log_ok", Field{Name: "events"})
		if err != nil {
			return Outcome(err, true, true)
		}
		evs, err := decodeClockEvents(m["events"])
		if err != nil {
			return Outcome(err, true, true)
		}
		return ok(evs)
	case "event", "send":
		op, _ := inv.Value.(checker.ClockOp)
		if op.To == c.Node() {
			// Only if the runner stopped binding thread t to node t mod N.
			op.To = w.p.NodeIDs[(slices.Index(w.p.NodeIDs, op.To)+1)%len(w.p.NodeIDs)]
		}
		body := map[string]any{"type": inv.F}
		kind := "local"
		if inv.F == "send" {
			body["to"] = op.To
			kind = "send"
		}
		raw, err := c.RPC(ctx, body)
		if err != nil {
			return Outcome(err, true, false)
		}
		m, err := Decode(raw, inv.F+"_ok", Field{Name: "event"}, Field{Name: "ts"})
		if err != nil {
			return Outcome(err, true, false)
		}
		var id string
		if err := json.Unmarshal(m["event"], &id); err != nil || id == "" {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("event must be a non-empty string id, got %s", truncate(string(m["event"]), 80))}, true, false)
		}
		op.Event = &checker.ClockEvent{ID: id, Kind: kind, TS: m["ts"]}
		return ok(op)
	}
	return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown operation " + inv.F}}
}

func decodeClockEvents(raw json.RawMessage) ([]checker.ClockEvent, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	var evs []checker.ClockEvent
	if err := d.Decode(&evs); err != nil {
		return nil, &MalformedError{Reason: fmt.Sprintf("events must be a list of {\"id\",\"kind\",\"ts\",\"cause\"} objects: %v", err)}
	}
	if evs == nil {
		evs = []checker.ClockEvent{}
	}
	return evs, nil
}

// Check returns the happens-before verdict; ExtraChecks the log and HLC
// checks of the same analysis.
func (w *clocks) Check(h history.History) checker.Result {
	rs := w.analyse(h)
	return rs[1]
}

func (w *clocks) ExtraChecks(h history.History) []checker.Result {
	rs := w.analyse(h)
	return append([]checker.Result{rs[0]}, rs[2:]...)
}

func (w *clocks) analyse(h history.History) []checker.Result {
	w.once.Do(func() {
		if w.p.Network == nil {
			u := checker.Result{Valid: checker.Unknown, Summary: "the network journal is not available, so messages cannot be checked"}
			a, b := u, u
			a.Checker, b.Checker = "clock-log", "happens-before"
			w.results = []checker.Result{a, b}
			return
		}
		labelled, unlabelled := clockMessages(w.p.Network.Journal(), w.p.NodeIDs)
		w.results = checkClocks(h, checker.ClockParams{
			Nodes:      w.p.NodeIDs,
			Kind:       w.p.Timestamps,
			Messages:   labelled,
			Unlabelled: unlabelled,
			Start:      w.p.Network.Start(),
			SkewBound:  clockSkewBound(h, w.p.Latency),
			Tolerance:  clockTolerance,
		})
	})
	return w.results
}

// clockMessages picks the node-to-node messages that carry an event id,
// and, apart, those that do not: a node that names its send event
// elsewhere in the body (nested, or under another key) has its receipts
// reported once, as that, rather than as messages never delivered.
func clockMessages(journal []netsim.Event, nodes []string) (labelled, unlabelled []checker.ClockMessage) {
	type at struct {
		list *[]checker.ClockMessage
		i    int
	}
	where := map[int64]at{}
	for _, e := range journal {
		switch e.Kind {
		case "send":
			if !slices.Contains(nodes, e.Src) || !slices.Contains(nodes, e.Dest) {
				continue
			}
			m := checker.ClockMessage{ID: e.ID, Src: e.Src, Dest: e.Dest, Sent: e.Time, Delivered: -1}
			var b map[string]json.RawMessage
			if json.Unmarshal(e.Body, &b) != nil {
				continue // not JSON: reported as a protocol error
			}
			raw, ok := b["event"]
			if ok && json.Unmarshal(raw, &m.Event) == nil {
				where[e.ID] = at{&labelled, len(labelled)}
				labelled = append(labelled, m)
				continue
			}
			keys := slices.Sorted(maps.Keys(b))
			m.Problem = fmt.Sprintf("no top-level \"event\" field (its body has %s)", strings.Join(keys, ", "))
			if ok {
				m.Problem = fmt.Sprintf("\"event\" is %s, not a string event id", raw)
			}
			where[e.ID] = at{&unlabelled, len(unlabelled)}
			unlabelled = append(unlabelled, m)
		case "recv":
			if w, ok := where[e.ID]; ok {
				(*w.list)[w.i].Delivered = e.Time
			}
		}
	}
	return labelled, unlabelled
}

// clockSkewBound is the farthest any node's clock was from true time,
// from the clock nemesis' own record: each setting's offset plus its drift
// over the time it was in force (until the next setting reached the
// nodes, a network latency after it was recorded).
func clockSkewBound(h history.History, latency time.Duration) time.Duration {
	type mark struct {
		t time.Duration
		s nemesis.ClockSettings
	}
	var marks []mark
	var end time.Duration
	for _, op := range h {
		end = max(end, op.Time)
		if s, ok := op.Value.(nemesis.ClockSettings); ok && op.Process < 0 {
			marks = append(marks, mark{op.Time, s})
		}
	}
	var bound time.Duration
	for i, m := range marks {
		until := end
		if i+1 < len(marks) {
			until = marks[i+1].t
		}
		span := until - m.t + 2*latency + time.Second
		for _, s := range m.s {
			off := time.Duration(s.OffsetNS)
			if off < 0 {
				off = -off
			}
			drift := s.DriftPPM
			if drift < 0 {
				drift = -drift
			}
			bound = max(bound, off+time.Duration(float64(span)*drift/1e6))
		}
	}
	return bound
}
