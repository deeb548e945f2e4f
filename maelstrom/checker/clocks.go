package checker

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The clocks workload's history values (see maelstrom/workload/clocks.go):
//
//	event  invoke: ClockOp{}           ok: ClockOp{Event}
//	send   invoke: ClockOp{To}         ok: ClockOp{To, Event}
//	log    invoke: nil                 ok: []ClockEvent (the node's log, in its order)

// ClockEvent is one event as a node reports it.
type ClockEvent struct {
	ID    string          `json:"id"`
	Kind  string          `json:"kind"` // "local", "send" or "recv"
	TS    json.RawMessage `json:"ts"`
	Cause string          `json:"cause,omitempty"` // recv: the id of the send event received
}

// ClockOp is the value of the clocks workload's event and send operations.
type ClockOp struct {
	To    string      `json:"to,omitempty"`
	Event *ClockEvent `json:"event,omitempty"`
}

// ClockMessage is one node-to-node message of the clocks workload as the
// grader's network carried it: its body named the send event in "event".
type ClockMessage struct {
	ID        int64         `json:"id"`
	Src       string        `json:"src"`
	Dest      string        `json:"dest"`
	Event     string        `json:"event"`
	Sent      time.Duration `json:"sent"`
	Delivered time.Duration `json:"delivered"` // -1: dropped, or never delivered
	// Problem says why the message could not be tied to a send event
	// (ClockParams.Unlabelled only).
	Problem string `json:"problem,omitempty"`
}

// Timestamp kinds of the clocks workload.
const (
	ClockWall    = "wall"    // integer nanoseconds of the node's physical clock
	ClockLamport = "lamport" // integer Lamport clock
	ClockVector  = "vector"  // object node -> integer
	ClockHLC     = "hlc"     // object {"wall": ns, "logical": n}
)

// ClockKinds lists the timestamp kinds.
var ClockKinds = []string{ClockWall, ClockLamport, ClockVector, ClockHLC}

// ClockParams is what the clock checkers know besides the history.
type ClockParams struct {
	Nodes    []string
	Kind     string // one of ClockKinds, or "" to infer it from the first timestamp
	Messages []ClockMessage
	// Unlabelled are node-to-node messages whose body did not name a send
	// event in a top-level "event" string; receipts and sends they would
	// explain are reported together, as that one mistake.
	Unlabelled []ClockMessage
	// Start is the absolute time of the run's start (history times are
	// relative to it), to compare HLC walls with true time.
	Start time.Time
	// SkewBound is the farthest any node's physical clock was from true
	// time (offset plus drift, from the clock nemesis' own record).
	SkewBound time.Duration
	// Tolerance absorbs the grader's measurement of true time: a node
	// handles a delivered message a little after the network delivered it.
	Tolerance time.Duration
}

// maxClockViolations caps the violations listed per checker.
const maxClockViolations = 10

// maxClockEvents bounds the events judged pair by pair: the ancestor sets
// take n²/8 bytes and the vector check compares n²/2 pairs. Past it the
// verdict is unknown rather than a partial check reported as valid.
const maxClockEvents = 20000

// Clocks judges a clocks-workload history. It returns three results:
//
//   - clock-log: every node's final log agrees with what the grader saw:
//     acknowledged events present with the timestamps the client got, no
//     event twice, every send put on the wire, every delivered message
//     received and no receipt of a message never delivered, and log order
//     consistent with real time.
//   - happens-before: the timestamps respect the true happens-before
//     relation (per-node log order plus send -> receive): a -> b implies
//     ts(a) < ts(b) for wall, Lamport and HLC timestamps; for vector
//     timestamps a -> b if and only if V(a) < V(b), so concurrent events
//     must compare concurrent.
//   - hlc-bounds (HLC only): every HLC wall within SkewBound (+Tolerance)
//     of the true time of its event, and every logical counter no larger
//     than the number of events before it with the same wall, the bound
//     of Kulkarni et al.
func Clocks(h history.History, p ClockParams) []Result {
	c := &clockCheck{p: p, h: h, byID: map[string]int{}, acked: map[string]ackedOp{}}
	logRes := Result{Checker: "clock-log"}
	hbRes := Result{Checker: "happens-before"}
	kind := p.Kind
	if !c.readLogs(&logRes) {
		hbRes.Valid, hbRes.Summary = Unknown, "happens-before: cannot judge without every node's log (see clock-log)"
		out := []Result{logRes, hbRes}
		if kind == ClockHLC {
			out = append(out, Result{Checker: "hlc-bounds", Valid: Unknown, Summary: "hlc-bounds: cannot judge without every node's log"})
		}
		return out
	}
	c.inferKind()
	c.parse()
	c.readOps()
	c.times()
	c.edges()
	c.checkLog(&logRes)
	switch {
	case c.cycle != nil:
		hbRes.Valid = Unknown
		hbRes.Summary = "happens-before: the logs contradict each other (a causal cycle, see clock-log), so there is no true order to judge against"
	case c.malformed > 0:
		hbRes.Valid = Unknown
		hbRes.Summary = fmt.Sprintf("happens-before: %d event(s) have unreadable timestamps (see clock-log), so the order cannot be judged", c.malformed)
	case len(c.evs) > maxClockEvents:
		hbRes.Valid = Unknown
		hbRes.Summary = fmt.Sprintf("happens-before: %d events are more than the %d this checker compares pair by pair; use a lower --rate or --time-limit", len(c.evs), maxClockEvents)
	default:
		c.reach()
		if c.kind == ClockVector {
			c.checkVectors(&hbRes)
		} else {
			c.checkScalar(&hbRes)
		}
	}
	out := []Result{logRes, hbRes}
	if c.kind == ClockHLC {
		hl := Result{Checker: "hlc-bounds"}
		if hbRes.Valid == Unknown {
			hl.Valid, hl.Summary = Unknown, "hlc-bounds: cannot judge (see happens-before)"
		} else {
			c.checkHLCBounds(&hl)
		}
		out = append(out, hl)
	}
	return out
}

// cev is one logged event with what the checker derived about it.
type cev struct {
	ClockEvent
	node string
	pos  int // position in its node's log
	// True time window on the run's clock: the event happened no earlier
	// than lo and no later than hi. Each bound comes from the grader's own
	// observations (loWhy, hiWhy say which), directly or through the
	// node's log order (loFrom, hiFrom name the event that set it).
	lo, hi         time.Duration
	loWhy, hiWhy   string
	loFrom, hiFrom int
	// Parsed timestamp.
	bad     bool
	scalar  int64
	logical int64
	vec     []uint64
	// Happens-before: direct predecessors (previous in the log, the send
	// received) and, after reach, every ancestor as a bitset.
	preds []int
	anc   []uint64
	topo  int
}

type ackedOp struct {
	node     string
	f        string
	to       string
	inv, end time.Duration
	op       history.Op
	ev       ClockEvent
}

type clockCheck struct {
	p       ClockParams
	h       history.History
	kind    string
	evs     []*cev
	byID    map[string]int // first event with the id
	logs    map[string][]int
	logRead map[string]time.Duration // when the node's log read began
	logDone map[string]time.Duration // when its answer came back
	acked   map[string]ackedOp       // event id -> the op that got it acknowledged
	ackList []ackedOp
	dims    []string // vector dimensions

	viol      []Violation // clock-log violations
	malformed int
	cycle     []int
	topo      []int
}

func (c *clockCheck) readLogs(res *Result) bool {
	c.logs = map[string][]int{}
	c.logRead = map[string]time.Duration{}
	c.logDone = map[string]time.Duration{}
	got := map[string][]ClockEvent{}
	why := map[string]string{}
	for _, pr := range c.h.Pairs() {
		if pr.Invoke.F != "log" || pr.Invoke.Process < 0 {
			continue
		}
		node := pr.Invoke.Node
		if pr.Outcome() != history.OK {
			if _, ok := got[node]; !ok {
				why[node] = "the log read ended " + string(pr.Outcome())
				if pr.Completion != nil && pr.Completion.Error != nil {
					why[node] += " (" + pr.Completion.Error.String() + ")"
				}
			}
			continue
		}
		evs, ok := pr.Completion.Value.([]ClockEvent)
		if !ok {
			why[node] = fmt.Sprintf("the log read returned a %T, not a list of events", pr.Completion.Value)
			continue
		}
		got[node] = evs
		c.logRead[node] = pr.Invoke.Time
		c.logDone[node] = pr.Completion.Time
		delete(why, node)
	}
	var missing []string
	for _, n := range c.p.Nodes {
		if _, ok := got[n]; !ok {
			w := why[n]
			if w == "" {
				w = "its log was never read (the run ended before the final phase)"
			}
			missing = append(missing, n+": "+w)
		}
	}
	if len(missing) > 0 {
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("clock-log: no log from %d node(s), so the run cannot be judged: %s", len(missing), strings.Join(missing, "; "))
		return false
	}
	for _, n := range c.p.Nodes {
		for pos, e := range got[n] {
			i := len(c.evs)
			c.evs = append(c.evs, &cev{ClockEvent: e, node: n, pos: pos})
			c.logs[n] = append(c.logs[n], i)
			if prev, dup := c.byID[e.ID]; dup {
				p := c.evs[prev]
				c.add(Violation{What: "duplicate event id", Node: n, Value: e, Time: c.logRead[n],
					Detail: fmt.Sprintf("event id %q appears twice: %s's log entry %d and %s's log entry %d; every event needs an id unique across the cluster, since receives name the send they received by it",
						e.ID, p.node, p.pos, n, pos)})
				continue
			}
			c.byID[e.ID] = i
		}
	}
	return true
}

func (c *clockCheck) add(v Violation) {
	c.viol = append(c.viol, v)
}

// inferKind takes the kind from the parameters or from the first
// timestamp's shape.
func (c *clockCheck) inferKind() {
	c.kind = c.p.Kind
	if c.kind != "" {
		return
	}
	c.kind = ClockLamport
	for _, e := range c.evs {
		t := bytes.TrimSpace(e.TS)
		if len(t) == 0 {
			continue
		}
		if t[0] == '{' {
			var m map[string]json.RawMessage
			if json.Unmarshal(t, &m) == nil && len(m) == 2 && m["wall"] != nil && m["logical"] != nil {
				c.kind = ClockHLC
			} else {
				c.kind = ClockVector
			}
		}
		return
	}
}

func (c *clockCheck) parse() {
	dimSet := map[string]bool{}
	vecs := make([]map[string]uint64, len(c.evs))
	for i, e := range c.evs {
		var err error
		switch {
		case e.ID == "":
			err = fmt.Errorf("the event has no id")
		case e.Kind != "local" && e.Kind != "send" && e.Kind != "recv":
			err = fmt.Errorf("kind %q is not local, send or recv", e.Kind)
		case e.Kind == "recv" && e.Cause == "":
			err = fmt.Errorf("a recv event must name the send it received in cause")
		case e.Kind != "recv" && e.Cause != "":
			err = fmt.Errorf("only recv events have a cause")
		}
		if err == nil {
			switch c.kind {
			case ClockWall, ClockLamport:
				e.scalar, err = parseInt(e.TS)
			case ClockHLC:
				e.scalar, e.logical, err = parseHLC(e.TS)
			case ClockVector:
				vecs[i], err = parseVector(e.TS)
				for k := range vecs[i] {
					dimSet[k] = true
				}
			}
		}
		if err != nil {
			e.bad = true
			c.malformed++
			c.add(Violation{What: "malformed event", Node: e.node, Value: e.ClockEvent, Time: c.logRead[e.node],
				Detail: fmt.Sprintf("%s's log entry %d %s: %v (want {\"id\":..,\"kind\":\"local|send|recv\",\"ts\":%s,\"cause\":<send id, recv only>})",
					e.node, e.pos, compact(mustJSON(e.ClockEvent)), err, tsShape(c.kind))})
		}
	}
	c.dims = make([]string, 0, len(dimSet))
	for k := range dimSet {
		c.dims = append(c.dims, k)
	}
	sort.Strings(c.dims)
	for i, v := range vecs {
		if v == nil {
			continue
		}
		d := make([]uint64, len(c.dims))
		for j, k := range c.dims {
			d[j] = v[k]
		}
		c.evs[i].vec = d
	}
}

func tsShape(kind string) string {
	switch kind {
	case ClockVector:
		return `{"n0":<int>,...}`
	case ClockHLC:
		return `{"wall":<ns>,"logical":<int>}`
	}
	return "<int>"
}

func parseInt(raw json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %s is not an integer", orNothing(s))
	}
	return v, nil
}

func parseHLC(raw json.RawMessage) (wall, logical int64, err error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m["wall"] == nil || m["logical"] == nil || len(m) != 2 {
		return 0, 0, fmt.Errorf("timestamp %s is not {\"wall\":<int>,\"logical\":<int>}", orNothing(string(raw)))
	}
	if wall, err = parseInt(m["wall"]); err != nil {
		return 0, 0, fmt.Errorf("wall: %w", err)
	}
	if logical, err = parseInt(m["logical"]); err != nil || logical < 0 {
		return 0, 0, fmt.Errorf("logical %s is not a non-negative integer", string(m["logical"]))
	}
	return wall, logical, nil
}

func parseVector(raw json.RawMessage) (map[string]uint64, error) {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, fmt.Errorf("timestamp %s is not an object of node -> integer", orNothing(string(raw)))
	}
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %s is not a non-negative integer", k, string(v))
		}
		out[k] = n
	}
	return out, nil
}

func orNothing(s string) string {
	if s == "" {
		return "(missing)"
	}
	return s
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	if buf.Len() > 200 {
		return buf.String()[:200] + "..."
	}
	return buf.String()
}

// readOps collects the events clients got acknowledged.
func (c *clockCheck) readOps() {
	for _, pr := range c.h.Pairs() {
		f := pr.Invoke.F
		if (f != "event" && f != "send") || pr.Invoke.Process < 0 || pr.Outcome() != history.OK {
			continue
		}
		op, ok := pr.Completion.Value.(ClockOp)
		if !ok || op.Event == nil {
			continue
		}
		a := ackedOp{node: pr.Invoke.Node, f: f, to: op.To, inv: pr.Invoke.Time, end: pr.Completion.Time,
			op: *pr.Completion, ev: *op.Event}
		if _, dup := c.acked[op.Event.ID]; dup {
			c.add(Violation{What: "duplicate event id", Node: a.node, Op: &a.op, Value: op.Event.ID, Time: a.end,
				Detail: fmt.Sprintf("%s acknowledged event id %q twice (again at %.3fs); every event needs a fresh id", a.node, op.Event.ID, a.end.Seconds())})
			continue
		}
		c.acked[op.Event.ID] = a
		c.ackList = append(c.ackList, a)
	}
}

// times sets each event's true time window from what the grader saw —
// a client's request and its acknowledgement, a message leaving the node
// (its send was stamped before), a message delivered (its receipt was
// stamped after), the log read — then narrows the windows along each
// node's log: an event cannot precede anything before it in the log, nor
// follow anything after it.
func (c *clockCheck) times() {
	sentBy := map[string]ClockMessage{} // src+event -> first message
	for _, m := range c.p.Messages {
		k := m.Src + "\x00" + m.Event
		if _, ok := sentBy[k]; !ok {
			sentBy[k] = m
		}
	}
	dels := c.deliveries()
	claims := map[string]int{}
	for i, e := range c.evs {
		e.lo, e.loWhy, e.loFrom = 0, "started with the run at 0.000s", i
		e.hi, e.hiWhy, e.hiFrom = c.logDone[e.node], fmt.Sprintf("was in the log read that ended at %.3fs", c.logDone[e.node].Seconds()), i
		later := func(t time.Duration, why string) {
			if t > e.lo {
				e.lo, e.loWhy = t, fmt.Sprintf(why, t.Seconds())
			}
		}
		earlier := func(t time.Duration, why string) {
			if t < e.hi {
				e.hi, e.hiWhy = t, fmt.Sprintf(why, t.Seconds())
			}
		}
		if a, ok := c.acked[e.ID]; ok && a.node == e.node {
			later(a.inv, "was requested at %.3fs")
			earlier(a.end, "was acknowledged at %.3fs")
		}
		if e.Kind == "send" {
			if m, ok := sentBy[e.node+"\x00"+e.ID]; ok {
				earlier(m.Sent, "had its message on the network at %.3fs")
			}
		}
		if e.Kind == "recv" && !e.bad {
			// The k-th receipt of a send in a node's log is the k-th delivery.
			k := e.Cause + "\x00" + e.node
			if n := claims[k]; n < len(dels[k]) {
				later(dels[k][n].Delivered, "received a message delivered at %.3fs")
			}
			claims[k]++
		}
	}
	for _, idx := range c.logs {
		for k := 1; k < len(idx); k++ {
			e, prev := c.evs[idx[k]], c.evs[idx[k-1]]
			if prev.lo > e.lo {
				e.lo, e.loWhy, e.loFrom = prev.lo, prev.loWhy, prev.loFrom
			}
		}
		for k := len(idx) - 2; k >= 0; k-- {
			e, next := c.evs[idx[k]], c.evs[idx[k+1]]
			if next.hi < e.hi {
				e.hi, e.hiWhy, e.hiFrom = next.hi, next.hiWhy, next.hiFrom
			}
		}
	}
}

// deliveries returns delivered messages by event + "\x00" + receiver, in
// delivery order.
func (c *clockCheck) deliveries() map[string][]ClockMessage {
	out := map[string][]ClockMessage{}
	for _, m := range c.p.Messages {
		if m.Delivered >= 0 {
			k := m.Event + "\x00" + m.Dest
			out[k] = append(out[k], m)
		}
	}
	for _, ms := range out {
		slices.SortStableFunc(ms, func(a, b ClockMessage) int { return cmp.Compare(a.Delivered, b.Delivered) })
	}
	return out
}

// edges links each event to its predecessor in its log and each receipt
// to the send it received, then orders events topologically (earliest
// known time first), finding a cycle if the logs contradict each other.
func (c *clockCheck) edges() {
	for _, idx := range c.logs {
		for k := 1; k < len(idx); k++ {
			c.evs[idx[k]].preds = append(c.evs[idx[k]].preds, idx[k-1])
		}
	}
	for i, e := range c.evs {
		if e.Kind != "recv" || e.bad {
			continue
		}
		if s, ok := c.byID[e.Cause]; ok && c.evs[s].Kind == "send" && s != i {
			e.preds = append(e.preds, s)
		}
	}
	succ := make([][]int, len(c.evs))
	indeg := make([]int, len(c.evs))
	for i, e := range c.evs {
		for _, p := range e.preds {
			succ[p] = append(succ[p], i)
			indeg[i]++
		}
	}
	// Ready events by their earliest possible time: an event's own lower
	// bound, or its predecessors' when unknown.
	key := make([]time.Duration, len(c.evs))
	q := &evHeap{key: key}
	for i, e := range c.evs {
		key[i] = e.lo
		if indeg[i] == 0 {
			heap.Push(q, i)
		}
	}
	for q.Len() > 0 {
		i := heap.Pop(q).(int)
		c.evs[i].topo = len(c.topo)
		c.topo = append(c.topo, i)
		for _, s := range succ[i] {
			key[s] = max(key[s], key[i])
			if indeg[s]--; indeg[s] == 0 {
				heap.Push(q, s)
			}
		}
	}
	if len(c.topo) < len(c.evs) {
		c.cycle = c.findCycle(indeg)
	}
}

type evHeap struct {
	key []time.Duration
	ix  []int
}

func (h *evHeap) Len() int { return len(h.ix) }
func (h *evHeap) Less(i, j int) bool {
	a, b := h.ix[i], h.ix[j]
	if h.key[a] != h.key[b] {
		return h.key[a] < h.key[b]
	}
	return a < b
}
func (h *evHeap) Swap(i, j int) { h.ix[i], h.ix[j] = h.ix[j], h.ix[i] }
func (h *evHeap) Push(x any)    { h.ix = append(h.ix, x.(int)) }
func (h *evHeap) Pop() any {
	x := h.ix[len(h.ix)-1]
	h.ix = h.ix[:len(h.ix)-1]
	return x
}

// findCycle walks predecessors among the events left unsorted, which all
// lie on or behind a cycle, until one repeats.
func (c *clockCheck) findCycle(indeg []int) []int {
	start := -1
	for i := range c.evs {
		if indeg[i] > 0 {
			start = i
			break
		}
	}
	seen := map[int]int{}
	var path []int
	for i := start; i >= 0; {
		if at, ok := seen[i]; ok {
			cyc := slices.Clone(path[at:])
			slices.Reverse(cyc)
			return cyc
		}
		seen[i] = len(path)
		path = append(path, i)
		next := -1
		for _, p := range c.evs[i].preds {
			if indeg[p] > 0 {
				next = p
				break
			}
		}
		i = next
	}
	return nil
}

// checkLog cross-checks the logs with the clients and the network.
func (c *clockCheck) checkLog(res *Result) {
	res.Checker = "clock-log"
	// Acknowledged events: present, same kind and timestamp.
	for _, a := range c.ackList {
		i, ok := c.byID[a.ev.ID]
		wantKind := map[string]string{"event": "local", "send": "send"}[a.f]
		switch {
		case !ok || c.evs[i].node != a.node:
			c.add(Violation{What: "acknowledged event missing from the log", Node: a.node, Op: &a.op, Value: a.ev, Time: a.end,
				Detail: fmt.Sprintf("%s acknowledged %s event %q (ts %s) at %.3fs, but its final log has no such event; a node must log every event it acknowledges",
					a.node, wantKind, a.ev.ID, compact(a.ev.TS), a.end.Seconds())})
		case c.evs[i].Kind != wantKind:
			c.add(Violation{What: "event logged with the wrong kind", Node: a.node, Op: &a.op, Value: c.evs[i].ClockEvent, Time: a.end,
				Detail: fmt.Sprintf("%s acknowledged %q as a %s event at %.3fs, but logs it as %q", a.node, a.ev.ID, wantKind, a.end.Seconds(), c.evs[i].Kind)})
		case !c.evs[i].bad && !sameTS(a.ev.TS, c.evs[i].TS):
			c.add(Violation{What: "timestamp rewritten", Node: a.node, Op: &a.op, Value: c.evs[i].ClockEvent, Time: a.end,
				Detail: fmt.Sprintf("%s acknowledged event %q with ts %s at %.3fs, but its log says ts %s; a timestamp, once given, must not change",
					a.node, a.ev.ID, compact(a.ev.TS), a.end.Seconds(), compact(c.evs[i].TS))})
		}
	}
	// Sends on the wire; receipts of delivered messages only; no delivered
	// message left out of the log.
	sent := map[string][]ClockMessage{}
	for _, m := range c.p.Messages {
		sent[m.Src+"\x00"+m.Event] = append(sent[m.Src+"\x00"+m.Event], m)
	}
	dels := c.deliveries()
	claims := map[string][]*cev{}
	var unmatchedRecv, unmatchedSend []*cev
	for _, e := range c.evs {
		if e.bad {
			continue
		}
		switch e.Kind {
		case "send":
			ms := sent[e.node+"\x00"+e.ID]
			if len(ms) == 0 && c.unlabelled(e.node, "") {
				unmatchedSend = append(unmatchedSend, e)
			} else if len(ms) == 0 {
				c.add(Violation{What: "send never sent", Node: e.node, Value: e.ClockEvent, Time: c.logRead[e.node],
					Detail: fmt.Sprintf("%s logs send event %q (ts %s), but never sent a message carrying \"event\":%q to another node",
						e.node, e.ID, compact(e.TS), e.ID)})
			} else if a, ok := c.acked[e.ID]; ok && a.to != "" && !slices.ContainsFunc(ms, func(m ClockMessage) bool { return m.Dest == a.to }) {
				c.add(Violation{What: "send to the wrong node", Node: e.node, Op: &a.op, Value: e.ClockEvent, Time: a.end,
					Detail: fmt.Sprintf("the client asked %s to send to %s; send event %q went to %s instead", e.node, a.to, e.ID, ms[0].Dest)})
			}
		case "recv":
			s, ok := c.byID[e.Cause]
			if !ok || c.evs[s].Kind != "send" {
				c.add(Violation{What: "receipt of an unknown send", Node: e.node, Value: e.ClockEvent, Time: c.logRead[e.node],
					Detail: fmt.Sprintf("%s logs recv event %q whose cause %q is not a send event in any node's log", e.node, e.ID, e.Cause)})
				continue
			}
			k := e.Cause + "\x00" + e.node
			claims[k] = append(claims[k], e)
			from := c.evs[s].node
			if n := len(claims[k]); n > len(dels[k]) {
				if c.unlabelled(from, e.node) {
					unmatchedRecv = append(unmatchedRecv, e)
					continue
				}
				what := "was never delivered to it"
				if len(dels[k]) > 0 {
					what = fmt.Sprintf("was delivered to it only %d time(s), but it logs %d receipts", len(dels[k]), n)
				}
				c.add(Violation{What: "receipt of a message never delivered", Node: e.node, Value: e.ClockEvent, Time: c.logRead[e.node],
					Detail: fmt.Sprintf("%s logs recv event %q of %s's send %q, but the grader's network shows that message %s",
						e.node, e.ID, from, e.Cause, what)})
			}
		}
	}
	c.reportUnlabelled(unmatchedRecv, unmatchedSend)
	var lost []ClockMessage
	for k, ds := range dels {
		for _, m := range ds[min(len(claims[k]), len(ds)):] {
			if read, ok := c.logRead[m.Dest]; ok && m.Delivered < read {
				lost = append(lost, m)
			}
		}
	}
	slices.SortFunc(lost, func(a, b ClockMessage) int { return cmp.Compare(a.Delivered, b.Delivered) })
	for _, m := range lost {
		c.add(Violation{What: "delivered message missing from the log", Node: m.Dest, Value: m, Time: m.Delivered,
			Detail: fmt.Sprintf("the network delivered %s's message for send %q (message #%d) to %s at %.3fs, before its log was read at %.3fs, but %s's log has no recv event for it; every received message is an event",
				m.Src, m.Event, m.ID, m.Dest, m.Delivered.Seconds(), c.logRead[m.Dest].Seconds(), m.Dest)})
	}
	if c.cycle != nil {
		var parts []string
		for _, i := range c.cycle {
			parts = append(parts, c.evs[i].node+":"+c.evs[i].ID)
		}
		e := c.evs[c.cycle[0]]
		c.add(Violation{What: "causal cycle", Node: e.node, Value: parts, Time: c.logRead[e.node],
			Detail: fmt.Sprintf("the logs put these events in a cycle, each before the next: %s -> back to the first; a receipt must come after its send", strings.Join(parts, " -> "))})
	}

	c.checkRealTimeOrder()

	res.Details = map[string]int{"events": len(c.evs), "acknowledged": len(c.ackList), "messages": len(c.p.Messages)}
	if len(c.viol) == 0 {
		res.Valid = Valid
		res.Summary = fmt.Sprintf("clock-log: %d events in %d logs agree with %d acknowledged operations and %d messages on the network",
			len(c.evs), len(c.logs), len(c.ackList), len(c.p.Messages))
		return
	}
	res.Valid = Invalid
	res.Summary = fmt.Sprintf("clock-log: %d problem(s); first: %s", len(c.viol), c.viol[0].What)
	res.Violations = c.viol[:min(len(c.viol), maxClockViolations)]
}

// unlabelled reports whether any message from src to dest (to anyone when
// dest is "") lacked its event id.
func (c *clockCheck) unlabelled(src, dest string) bool {
	return slices.ContainsFunc(c.p.Unlabelled, func(m ClockMessage) bool {
		return m.Src == src && (dest == "" || m.Dest == dest)
	})
}

// reportUnlabelled reports, as one violation, the receipts and sends that
// no message on the network accounts for because messages did not carry
// their send event's id: the cause is one mistake in the node's message
// format, not hundreds of lost messages.
func (c *clockCheck) reportUnlabelled(recvs, sends []*cev) {
	if len(recvs)+len(sends) == 0 {
		return
	}
	m := c.p.Unlabelled[0]
	var first string
	var e *cev
	if len(recvs) > 0 {
		e = recvs[0]
		first = fmt.Sprintf("%s's recv event %q of send %q", e.node, e.ID, e.Cause)
	} else {
		e = sends[0]
		first = fmt.Sprintf("%s's send event %q", e.node, e.ID)
	}
	c.add(Violation{What: "message without its send event id", Node: m.Src, Value: m, Time: m.Sent,
		Detail: fmt.Sprintf("%d node-to-node message(s) carried no send event id (the first, message #%d from %s to %s at %.3fs: %s), so %d receipt(s) and %d send(s) in the logs match no message on the network (the first: %s); "+
			"every message a node sends for a send event must carry that event's id at the top level of its body, as \"event\": \"<send event id>\"",
			len(c.p.Unlabelled), m.ID, m.Src, m.Dest, m.Sent.Seconds(), m.Problem, len(recvs), len(sends), first)})
}

// checkRealTimeOrder: on each node, no event's window may be empty; an
// empty one means the log lists an event before another that, by what the
// grader saw, happened earlier.
func (c *clockCheck) checkRealTimeOrder() {
	for _, n := range c.p.Nodes {
		for _, i := range c.logs[n] {
			e := c.evs[i]
			if e.lo <= e.hi {
				continue
			}
			first, second := c.evs[e.loFrom], c.evs[e.hiFrom]
			c.add(Violation{What: "log order contradicts real time", Node: n, Op: c.opOf(first), Value: []string{first.ID, second.ID}, Time: e.hi,
				Detail: fmt.Sprintf("%s's log lists %q (entry %d) before %q (entry %d), yet %q %s and %q %s: a node's log must list its events in the order they happened",
					n, first.ID, first.pos, second.ID, second.pos, first.ID, e.loWhy, second.ID, e.hiWhy)})
			break
		}
	}
}

func sameTS(a, b json.RawMessage) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return bytes.Equal(a, b)
	}
	return compact(mustJSON(x)) == compact(mustJSON(y)) // maps marshal sorted
}

// reach computes every event's ancestors in topological order.
func (c *clockCheck) reach() {
	words := (len(c.evs) + 63) / 64
	for _, i := range c.topo {
		e := c.evs[i]
		e.anc = make([]uint64, words)
		for _, p := range e.preds {
			for w, x := range c.evs[p].anc {
				e.anc[w] |= x
			}
			e.anc[p/64] |= 1 << (p % 64)
		}
	}
}

func (e *cev) after(a int) bool { return e.anc[a/64]&(1<<(a%64)) != 0 }

// less orders scalar and HLC timestamps.
func (c *clockCheck) less(a, b *cev) bool {
	if a.scalar != b.scalar {
		return a.scalar < b.scalar
	}
	return a.logical < b.logical
}

func (c *clockCheck) tsString(e *cev) string { return compact(e.TS) }

// describe renders an event for a violation: node, kind, id, ts, time.
func (c *clockCheck) describe(e *cev) string {
	when := fmt.Sprintf("at %.3fs", e.lo.Seconds())
	if e.lo < e.hi {
		when = fmt.Sprintf("between %.3fs and %.3fs", e.lo.Seconds(), e.hi.Seconds())
	}
	clock := ""
	if (c.kind == ClockWall || c.kind == ClockHLC) && !c.p.Start.IsZero() {
		// Physical readings on the run's clock, comparable with true time.
		clock = fmt.Sprintf(", the node's clock reading %.3fs", time.Duration(e.scalar-c.p.Start.UnixNano()).Seconds())
	}
	return fmt.Sprintf("%s's %s event %q (ts %s%s, %s true time)", e.node, e.Kind, e.ID, c.tsString(e), clock, when)
}

// chain explains why a happened before b: the path of log steps and
// messages between them.
func (c *clockCheck) chain(a, b int) string {
	// Walk back from b through predecessors that descend from a.
	path := []int{b}
	for cur := b; cur != a; {
		next := -1
		for _, p := range c.evs[cur].preds {
			if p == a || c.evs[p].after(a) {
				next = p
				break
			}
		}
		if next < 0 {
			break
		}
		path = append(path, next)
		cur = next
	}
	slices.Reverse(path)
	var steps []string
	for k := 1; k < len(path); k++ {
		x, y := c.evs[path[k-1]], c.evs[path[k]]
		if x.node == y.node {
			steps = append(steps, fmt.Sprintf("%s logs %q before %q", x.node, x.ID, y.ID))
		} else {
			steps = append(steps, fmt.Sprintf("%s's %q received the message of %s's %q", y.node, y.ID, x.node, x.ID))
		}
	}
	return strings.Join(steps, ", then ")
}

func (c *clockCheck) opOf(e *cev) *history.Op {
	if a, ok := c.acked[e.ID]; ok && a.node == e.node {
		op := a.op
		return &op
	}
	return nil
}

func (c *clockCheck) hbViolation(what string, a, b *cev, detail string) Violation {
	t := b.lo
	return Violation{What: what, Node: b.node, Op: c.opOf(b), Value: []ClockEvent{a.ClockEvent, b.ClockEvent}, Time: t, Detail: detail}
}

// checkScalar: a -> b implies ts(a) < ts(b), for every ordered pair. A
// violating pair always has a violating direct step (< is transitive), and
// the earliest such step is the clearest explanation, so it comes first.
func (c *clockCheck) checkScalar(res *Result) {
	name := map[string]string{ClockWall: "wall-clock", ClockLamport: "Lamport", ClockHLC: "HLC"}[c.kind]
	var viol []Violation
	pairs, bad := 0, 0
	for _, bi := range c.topo {
		b := c.evs[bi]
		for _, ai := range b.preds {
			a := c.evs[ai]
			if !c.less(a, b) && len(viol) < maxClockViolations {
				viol = append(viol, c.hbViolation("timestamps out of causal order", a, b,
					fmt.Sprintf("%s happened before %s (%s), but the %s timestamps are out of order: %s is not less than %s",
						c.describe(a), c.describe(b), c.chain(ai, bi), name, c.tsString(a), c.tsString(b))))
			}
		}
		for w, x := range b.anc {
			for x != 0 {
				ai := w*64 + bits.TrailingZeros64(x)
				x &= x - 1
				pairs++
				if !c.less(c.evs[ai], b) {
					bad++
				}
			}
		}
	}
	if bad > 0 && len(viol) == 0 {
		// Unreachable for a total order; kept so the checker never says
		// valid when a pair is out of order.
		viol = append(viol, Violation{What: "timestamps out of causal order", Detail: fmt.Sprintf("%d causally ordered pairs are out of order", bad)})
	}
	res.Details = map[string]any{"kind": c.kind, "events": len(c.evs), "ordered_pairs": pairs, "violating_pairs": bad}
	if len(viol) == 0 {
		res.Valid = Valid
		res.Summary = fmt.Sprintf("happens-before: %s timestamps of %d events respect all %d causally ordered pairs", name, len(c.evs), pairs)
		return
	}
	res.Valid = Invalid
	res.Violations = viol
	res.Summary = fmt.Sprintf("happens-before: %d of %d causally ordered pairs have %s timestamps out of order; first: %s -> %s",
		bad, pairs, name, viol[0].Value.([]ClockEvent)[0].ID, viol[0].Value.([]ClockEvent)[1].ID)
}

type vorder int

const (
	vEqual vorder = iota
	vBefore
	vAfter
	vConcurrent
)

func (o vorder) String() string {
	return [...]string{"equal", "before", "after", "concurrent"}[o]
}

func vcompare(a, b []uint64) vorder {
	less, more := false, false
	for i := range a {
		switch {
		case a[i] < b[i]:
			less = true
		case a[i] > b[i]:
			more = true
		}
	}
	switch {
	case less && more:
		return vConcurrent
	case less:
		return vBefore
	case more:
		return vAfter
	}
	return vEqual
}

// checkVectors: for every pair of events, V(a) < V(b) exactly when a -> b;
// events with no causal path between them must compare concurrent. Direct
// steps are checked first, since a clock that fails to merge shows there.
func (c *clockCheck) checkVectors(res *Result) {
	var viol []Violation
	ordered, concurrent, bad := 0, 0, 0
	for _, bi := range c.topo {
		b := c.evs[bi]
		for _, ai := range b.preds {
			a := c.evs[ai]
			if o := vcompare(a.vec, b.vec); o != vBefore && len(viol) < maxClockViolations {
				viol = append(viol, c.hbViolation("vector timestamps miss a causal order", a, b,
					fmt.Sprintf("%s happened before %s (%s), but their vectors compare %s, not before: %s vs %s",
						c.describe(a), c.describe(b), c.chain(ai, bi), o, c.tsString(a), c.tsString(b))))
			}
		}
	}
	edgeViol := len(viol)
	for _, bi := range c.topo {
		b := c.evs[bi]
		for _, ai := range c.topo[:b.topo] {
			a := c.evs[ai]
			got := vcompare(a.vec, b.vec)
			switch {
			case b.after(ai):
				ordered++
				if got != vBefore {
					bad++
					if edgeViol == 0 && len(viol) < maxClockViolations {
						viol = append(viol, c.hbViolation("vector timestamps miss a causal order", a, b,
							fmt.Sprintf("%s happened before %s (%s), but their vectors compare %s: %s vs %s",
								c.describe(a), c.describe(b), c.chain(ai, bi), got, c.tsString(a), c.tsString(b))))
					}
				}
			case a.after(bi):
				// Cannot happen: topological order puts ancestors first.
			default:
				concurrent++
				if got != vConcurrent {
					bad++
					if edgeViol == 0 && len(viol) < maxClockViolations {
						viol = append(viol, c.hbViolation("vector timestamps invent a causal order", a, b,
							fmt.Sprintf("%s and %s are concurrent (no chain of log steps and messages leads from one to the other), but their vectors compare %s: %s vs %s",
								c.describe(a), c.describe(b), got, c.tsString(a), c.tsString(b))))
					}
				}
			}
		}
	}
	if bad > 0 && len(viol) == 0 {
		viol = append(viol, Violation{What: "vector timestamps out of causal order", Detail: fmt.Sprintf("%d pairs compare wrongly", bad)})
	}
	res.Details = map[string]any{"kind": c.kind, "events": len(c.evs), "ordered_pairs": ordered, "concurrent_pairs": concurrent, "violating_pairs": bad}
	if len(viol) == 0 {
		res.Valid = Valid
		res.Summary = fmt.Sprintf("happens-before: vector timestamps of %d events order all %d causally ordered pairs and find all %d concurrent pairs concurrent",
			len(c.evs), ordered, concurrent)
		return
	}
	res.Valid = Invalid
	res.Violations = viol
	first := viol[0].Value.([]ClockEvent)
	res.Summary = fmt.Sprintf("happens-before: %d of %d pairs (%d ordered, %d concurrent) compare wrongly; first: %s vs %s",
		bad, ordered+concurrent, ordered, concurrent, first[0].ID, first[1].ID)
}

// checkHLCBounds: walls stay near true time, counters stay small.
func (c *clockCheck) checkHLCBounds(res *Result) {
	bound := c.p.SkewBound + c.p.Tolerance
	start := c.p.Start.UnixNano()
	var viol []Violation
	var worst time.Duration
	checked, maxLogical := 0, int64(0)
	for _, i := range c.topo {
		e := c.evs[i]
		maxLogical = max(maxLogical, e.logical)
		if e.lo <= e.hi { // an empty window is clock-log's to report
			checked++
			wall := time.Duration(e.scalar - start)
			var off time.Duration
			switch {
			case wall < e.lo:
				off = wall - e.lo
			case wall > e.hi:
				off = wall - e.hi
			}
			worst = max(worst, off, -off)
			if (off > bound || -off > bound) && len(viol) < maxClockViolations {
				dir := "ahead of"
				if off < 0 {
					dir = "behind"
				}
				viol = append(viol, Violation{What: "HLC wall far from true time", Node: e.node, Op: c.opOf(e), Value: e.ClockEvent, Time: e.lo,
					Detail: fmt.Sprintf("%s has wall %.3fs (on the run's clock), %v %s the true time, more than the %v its physical clock can be off (skew %v + tolerance %v); an HLC's wall must follow physical time",
						c.describe(e), wall.Seconds(), abs(off), dir, bound, c.p.SkewBound, c.p.Tolerance)})
			}
		}
		// Kulkarni et al.: logical(e) never exceeds the number of events
		// before e that share its wall.
		same := int64(0)
		for w, x := range e.anc {
			for x != 0 {
				b := bits.TrailingZeros64(x)
				x &= x - 1
				if c.evs[w*64+b].scalar == e.scalar {
					same++
				}
			}
		}
		if e.logical > same && len(viol) < maxClockViolations {
			viol = append(viol, Violation{What: "HLC logical counter too large", Node: e.node, Op: c.opOf(e), Value: e.ClockEvent, Time: e.lo,
				Detail: fmt.Sprintf("%s has logical %d, but only %d event(s) happened before it with the same wall; the counter must restart at 0 whenever the wall moves on",
					c.describe(e), e.logical, same)})
		}
	}
	res.Details = map[string]any{"bound": bound.String(), "events_checked": checked, "worst_offset": worst.String(), "max_logical": maxLogical}
	if len(viol) == 0 {
		res.Valid = Valid
		res.Summary = fmt.Sprintf("hlc-bounds: %d walls within %v of their events' true time windows (worst %v), logical counters within bound (max %d)", checked, bound, worst, maxLogical)
		return
	}
	res.Valid = Invalid
	res.Violations = viol
	res.Summary = fmt.Sprintf("hlc-bounds: %d problem(s); first: %s", len(viol), viol[0].What)
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
