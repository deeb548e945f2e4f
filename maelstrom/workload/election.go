package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// MessageObserver is implemented by instances whose checks need the
// traffic between nodes, not only the clients' history. The runner calls
// ObserveMessage for every message a node sends to another node (not to a
// client or a service), at the time it is sent, from any goroutine.
type MessageObserver interface {
	ObserveMessage(at time.Duration, src, dest string, body json.RawMessage)
}

// election (ours, the elector track): the grader polls every node's role
// and term at a steady rate, under partitions, kills and pauses.
//
//	{"type":"status"} -> {"type":"status_ok","role":"leader|follower|candidate","term":N,"leader":"nX"}
//
// leader is the leader the node follows in term N; it may be omitted or
// empty when unknown. History values: status invoke nil, ok
// checker.ElectionStatus. Each worker thread polls one node (thread mod
// node count), so --concurrency 1n polls every node at rate/N per second.
//
// Faults stop electionQuietTail before the end of the run, so the last
// heal is always judged. --failovers N makes a run that judged fewer than
// N failovers (a leader in a later term after a fault took the last one
// away) unknown: a stage named for partitions or kills must have tested
// one.
func electionSpec() Spec {
	return Spec{Name: "election", Description: "nodes elect one leader per term and keep it while healthy", Reusable: true,
		Timeout:   func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		QuietTail: electionQuietTail,
		Flags: []Flag{{Name: "failovers", Default: "0",
			Usage: "the least number of failovers a run must judge, else its verdict is unknown"}},
		New: func(p Params) (Instance, error) {
			n, err := strconv.Atoi(p.Flags["failovers"])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--failovers must be a non-negative integer, got %q", p.Flags["failovers"])
			}
			return &election{p: p, failovers: n, links: map[[2]string]*checker.LinkTraffic{}}, nil
		}}
}

// electionQuietTail is the healthy end of every election run: the
// failover bound (2 s) and a few polls after it.
const electionQuietTail = 4 * time.Second

type election struct {
	noSetup
	p         Params
	failovers int

	mu    sync.Mutex
	links map[[2]string]*checker.LinkTraffic
	last  time.Duration
}

func (*election) Next(int, int) Invocation { return Invocation{F: "status"} }

var electionRoles = []string{"leader", "follower", "candidate"}

func (*election) Invoke(ctx context.Context, c Caller, _ int, _ Invocation) Completion {
	raw, err := c.RPC(ctx, map[string]any{"type": "status"})
	if err != nil {
		return Outcome(err, true, true)
	}
	m, err := Decode(raw, "status_ok", Field{Name: "role"}, Field{Name: "term"}, Field{Name: "leader", Optional: true})
	if err != nil {
		return Outcome(err, true, true)
	}
	var st checker.ElectionStatus
	if err := json.Unmarshal(m["role"], &st.Role); err != nil || !slices.Contains(electionRoles, st.Role) {
		return Outcome(&MalformedError{Reason: fmt.Sprintf("role must be one of %v, got %s", electionRoles, m["role"])}, true, true)
	}
	if st.Term, err = decodeInt(m["term"], "term"); err != nil || st.Term < 0 {
		return Outcome(&MalformedError{Reason: fmt.Sprintf("term must be a non-negative integer, got %s", m["term"])}, true, true)
	}
	if l, ok := m["leader"]; ok && string(l) != "null" {
		if err := json.Unmarshal(l, &st.Leader); err != nil {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("leader must be a node id string, got %s", l)}, true, true)
		}
	}
	return ok(st)
}

// ObserveMessage counts node-to-node traffic by link and body type, and
// keeps each message's time, type and number of entries for the windowed
// heartbeat budget.
func (w *election) ObserveMessage(at time.Duration, src, dest string, body json.RawMessage) {
	var b struct {
		Type    string            `json:"type"`
		Entries []json.RawMessage `json:"entries"`
	}
	_ = json.Unmarshal(body, &b)
	w.mu.Lock()
	defer w.mu.Unlock()
	k := [2]string{src, dest}
	l := w.links[k]
	if l == nil {
		l = &checker.LinkTraffic{Src: src, Dest: dest, ByType: map[string]int64{}}
		w.links[k] = l
	}
	l.Count++
	l.ByType[b.Type]++
	l.Sends = append(l.Sends, checker.Send{At: at, Type: b.Type, Entries: len(b.Entries)})
	w.last = max(w.last, at)
}

func (w *election) traffic() []checker.LinkTraffic {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]checker.LinkTraffic, 0, len(w.links))
	for _, l := range w.links {
		c := *l
		c.ByType = map[string]int64{}
		for t, n := range l.ByType {
			c.ByType[t] = n
		}
		c.Sends = slices.Clone(l.Sends)
		sort.SliceStable(c.Sends, func(i, j int) bool { return c.Sends[i].At < c.Sends[j].At })
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Src != out[j].Src {
			return out[i].Src < out[j].Src
		}
		return out[i].Dest < out[j].Dest
	})
	return out
}

func (w *election) Check(h history.History) checker.Result {
	dur := time.Duration(0)
	if len(h) > 0 {
		dur = h[len(h)-1].Time
	}
	w.mu.Lock()
	dur = max(dur, w.last)
	w.mu.Unlock()
	return checkElection(h, w.p.NodeIDs, w.traffic(), dur, w.failovers)
}
