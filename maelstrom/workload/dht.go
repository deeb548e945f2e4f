package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// dht: the advanced track's distributed-hash-table workload (ours).
// Clients put and get integer values under string keys through any
// node of the ring while the ring's membership changes:
//
//	{"type":"ring","members":["n0",...]}  -> {"type":"ring_ok"}            (setup, to each initial member)
//	{"type":"put","key":"k3","value":17}  -> {"type":"put_ok","hops":2}
//	{"type":"get","key":"k3"}             -> {"type":"get_ok","value":17,"hops":2}
//	                                         or error 20 (key does not exist)
//	{"type":"join","bootstrap":"n4"}      -> {"type":"join_ok"}            (to a dormant node)
//	{"type":"leave"}                      -> {"type":"leave_ok"}           (a graceful leave)
//
// hops is how many times the node's lookup was forwarded. A node that is
// not in the ring (dormant, or gone) answers put and get with error 11.
//
// Membership schedule: the last --dormant nodes start outside the ring;
// every --churn-every seconds one event happens, in an order drawn from
// the seed: a dormant node joins through a member, a member leaves, or
// a member is killed for good (--deaths of them; never restarted). Each
// node has its own worker thread (concurrency is a multiple of the node
// count), which runs that node's events; a thread whose node is out of
// the ring only reads (expecting error 11, or a timeout once it died).
//
// Checks (checker.DHT): every get returns the latest acknowledged put
// of its key or a concurrent one. The schedule kills --deaths nodes in
// all, and a stage runs nodes with --replicas above that, so no key can
// lose all its replicas: the grader demands every get with no exception.
// Hops: their mean is at most log2(n) + 1.
func init() {
	Register(func() Spec {
		return Spec{Name: "dht", Description: "put/get through any node of a distributed hash table while nodes join, leave and die (ours)",
			Reusable: true, Timeout: func(time.Duration) time.Duration { return 5 * time.Second },
			ConcurrencyMultipleOf: func(n int) int { return n },
			Flags: []Flag{
				{Name: "keys", Default: "16", Usage: "number of keys"},
				{Name: "dormant", Default: "0", Usage: "nodes (the last ones) that start outside the ring and join during the run"},
				{Name: "leaves", Default: "0", Usage: "members that leave gracefully during the run"},
				{Name: "deaths", Default: "0", Usage: "members killed for good during the run"},
				{Name: "churn-every", Default: "2", Usage: "seconds between membership events"},
			},
			New: newDHT,
		}
	})
}

type dhtState int

const (
	dhtDormant dhtState = iota
	dhtJoining
	dhtMember
	dhtGone // left or dead
)

type dhtEvent struct {
	at     time.Duration
	kind   string // join, leave, kill
	node   string
	issued bool
}

type dhtW struct {
	p     Params
	keys  int
	start time.Time
	kill  func(ctx context.Context, node string) error

	mu     sync.Mutex
	rng    *rand.Rand
	state  map[string]dhtState
	events []*dhtEvent
	next   int64
}

func newDHT(p Params) (Instance, error) {
	n := len(p.NodeIDs)
	num := func(name string, hi float64) (int, error) {
		v, err := p.FlagNumber(name, 0, hi)
		return int(v), err
	}
	keys, err := p.FlagNumber("keys", 1, 1e5)
	if err != nil {
		return nil, err
	}
	dormant, err := num("dormant", float64(n))
	if err != nil {
		return nil, err
	}
	leaves, err := num("leaves", float64(n))
	if err != nil {
		return nil, err
	}
	deaths, err := num("deaths", float64(n))
	if err != nil {
		return nil, err
	}
	every, err := p.FlagNumber("churn-every", 0.1, 3600)
	if err != nil {
		return nil, err
	}
	initial := n - dormant
	if initial-leaves-deaths < 3 {
		return nil, fmt.Errorf("dht: %d nodes with %d dormant, %d leaves and %d deaths leave fewer than 3 in the ring", n, dormant, leaves, deaths)
	}
	w := &dhtW{p: p, keys: int(keys), start: time.Now(), state: map[string]dhtState{},
		rng: rand.New(rand.NewPCG(p.Rand.Uint64(), p.Rand.Uint64()))}
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	for i, id := range p.NodeIDs {
		if i < initial {
			w.state[id] = dhtMember
		} else {
			w.state[id] = dhtDormant
		}
	}
	// Victims of leaves and deaths are drawn from the initial members.
	victims := w.rng.Perm(initial)
	var evs []*dhtEvent
	for _, id := range p.NodeIDs[initial:] {
		evs = append(evs, &dhtEvent{kind: "join", node: id})
	}
	for i := range leaves {
		evs = append(evs, &dhtEvent{kind: "leave", node: p.NodeIDs[victims[i]]})
	}
	for i := range deaths {
		evs = append(evs, &dhtEvent{kind: "kill", node: p.NodeIDs[victims[leaves+i]]})
	}
	w.rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	gap := time.Duration(every * float64(time.Second))
	for i, e := range evs {
		e.at = time.Duration(i+1) * gap
	}
	w.events = evs
	return w, nil
}

func (w *dhtW) SetKill(kill func(ctx context.Context, node string) error) { w.kill = kill }

func (w *dhtW) members() []string {
	var out []string
	for _, id := range w.p.NodeIDs {
		if w.state[id] == dhtMember {
			out = append(out, id)
		}
	}
	return out
}

// Setup gives each initial member the initial ring.
func (w *dhtW) Setup(ctx context.Context, node string, c Caller) error {
	w.mu.Lock()
	st, members := w.state[node], w.members()
	w.mu.Unlock()
	if st != dhtMember {
		return nil
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "ring", "members": members})
	if err == nil {
		_, err = Decode(raw, "ring_ok")
	}
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	return nil
}

func (w *dhtW) Next(thread, _ int) Invocation {
	node := w.p.NodeIDs[thread%len(w.p.NodeIDs)]
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Since(w.start)
	for _, e := range w.events {
		if e.node != node || e.issued || e.at > now {
			continue
		}
		e.issued = true
		switch e.kind {
		case "join":
			ms := w.members()
			w.state[node] = dhtJoining
			return Invocation{F: "join", Value: map[string]string{"node": node, "bootstrap": ms[w.rng.IntN(len(ms))]}}
		default:
			w.state[node] = dhtGone
			return Invocation{F: e.kind, Value: node}
		}
	}
	key := fmt.Sprintf("k%d", w.rng.IntN(w.keys))
	if w.state[node] == dhtMember && w.rng.IntN(2) == 0 {
		w.next++
		v := w.next
		return Invocation{F: "put", Value: checker.DHTOp{Key: key, Value: &v}}
	}
	return Invocation{F: "get", Value: checker.DHTOp{Key: key}}
}

func (w *dhtW) Final(int) []Invocation { return nil }

func (w *dhtW) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch inv.F {
	case "kill":
		node := inv.Value.(string)
		if w.kill == nil {
			return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "this runner cannot kill nodes"}}
		}
		if err := w.kill(ctx, node); err != nil {
			return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: err.Error()}}
		}
		return ok(node)
	case "leave":
		raw, err := c.RPC(ctx, map[string]any{"type": "leave"})
		if err == nil {
			_, err = Decode(raw, "leave_ok")
		}
		if err != nil {
			return Outcome(err, true, false)
		}
		return ok(inv.Value)
	case "join":
		v := inv.Value.(map[string]string)
		raw, err := c.RPC(ctx, map[string]any{"type": "join", "bootstrap": v["bootstrap"]})
		if err == nil {
			_, err = Decode(raw, "join_ok")
		}
		w.mu.Lock()
		if err == nil {
			w.state[v["node"]] = dhtMember
		} else {
			// A join that failed or may not have happened: leave the node
			// out of the ring as far as the schedule is concerned.
			w.state[v["node"]] = dhtGone
		}
		w.mu.Unlock()
		if err != nil {
			return Outcome(err, true, false)
		}
		return ok(inv.Value)
	}
	in := inv.Value.(checker.DHTOp)
	body := map[string]any{"type": inv.F, "key": in.Key}
	if inv.F == "put" {
		body["value"] = *in.Value
	}
	fields := []Field{{Name: "hops"}}
	if inv.F == "get" {
		fields = append(fields, Field{Name: "value"})
	}
	raw, err := c.RPC(ctx, body)
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, inv.F+"_ok", fields...)
	}
	if err != nil {
		if rpc := (*RPCError)(nil); errors.As(err, &rpc) && rpc.Code == 20 && inv.F == "get" {
			return ok(checker.DHTOp{Key: in.Key})
		}
		return Outcome(err, true, inv.F == "get")
	}
	hops, err := decodeInt(m["hops"], "hops")
	if err == nil && hops < 0 {
		err = &MalformedError{Reason: fmt.Sprintf("hops must be at least 0, got %d", hops)}
	}
	if err != nil {
		return Outcome(err, true, false)
	}
	h := int(hops)
	out := checker.DHTOp{Key: in.Key, Value: in.Value, Hops: &h}
	if inv.F == "get" {
		v, err := decodeInt(m["value"], "value")
		if err != nil {
			return Outcome(err, true, false)
		}
		out.Value = &v
	}
	return ok(out)
}

func (w *dhtW) Check(h history.History) checker.Result {
	v, _ := checker.DHT(h, len(w.p.NodeIDs))
	return v
}

func (w *dhtW) ExtraChecks(h history.History) []checker.Result {
	_, hops := checker.DHT(h, len(w.p.NodeIDs))
	return []checker.Result{hops}
}
