package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// proxy: the proxies track's workload (ours). Clients read and increment
// counters through the nodes, which relay to a slow origin that the
// grader runs itself and whose calls it counts:
//
//	client -> node {"type":"get","key":k}                      -> {"type":"get_ok","value":v}
//	client -> node {"type":"incr","key":k,"request_id":"r7"}   -> {"type":"incr_ok","value":v}
//	node -> origin  the same two requests                      -> the same two replies
//
// The origin reads or increments when a request arrives and answers after
// a random latency in [L/2, 3L/2] (--origin-latency L); with --origin-fail
// it refuses that fraction of requests with error 11 (temporarily
// unavailable) without doing anything. It does not de-duplicate: every
// incr it accepts takes effect, so a retried request_id applied twice is
// the proxy's fault. With --attempt-timeout, clients give up on an
// attempt after that long and send the request again with the same
// request_id. With --burst-every, every that many seconds the clients
// spend --burst-length milliseconds reading only the hot key 0 (with a
// few increments of it), which no other operation reads.
const proxyOrigin = "origin"

func init() {
	Register(func() Spec {
		return Spec{Name: "proxy", Description: "gets and idempotent increments through relaying nodes to a slow origin (ours)",
			Reusable: true,
			Flags: []Flag{
				{Name: "keys", Default: "10", Usage: "number of counters"},
				{Name: "origin-latency", Default: "100", Usage: "mean milliseconds before the origin answers"},
				{Name: "origin-fail", Default: "0", Usage: "fraction of origin requests refused with error 11"},
				{Name: "attempt-timeout", Default: "0", Usage: "milliseconds before a client retries with the same request_id (0: never)"},
				{Name: "burst-every", Default: "0", Usage: "seconds between hot-key bursts (0: none)"},
				{Name: "burst-length", Default: "1000", Usage: "milliseconds each hot-key burst lasts"},
			},
			New: newProxy,
		}
	})
}

func newProxy(p Params) (Instance, error) {
	num := p.FlagNumber
	var vals [6]float64
	for i, c := range []struct {
		name   string
		lo, hi float64
	}{{"keys", 2, 1e6}, {"origin-latency", 0, 60000}, {"origin-fail", 0, 0.9}, {"attempt-timeout", 0, 60000},
		{"burst-every", 0, 3600}, {"burst-length", 1, 3600000}} {
		v, err := num(c.name, c.lo, c.hi)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	w := &proxyWL{p: p, keys: int(vals[0]), latency: ms(vals[1]), fail: vals[2], attempt: ms(vals[3]),
		burstEvery: time.Duration(vals[4] * float64(time.Second)), burstLen: ms(vals[5]),
		rng:     rand.New(rand.NewPCG(p.Rand.Uint64(), p.Rand.Uint64())),
		applied: map[string][]int64{}, values: map[int64]int64{}}
	if w.burstEvery > 0 && w.burstLen >= w.burstEvery {
		return nil, fmt.Errorf("--burst-length must be shorter than --burst-every")
	}
	w.start = time.Now()
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

type proxyWL struct {
	noSetup
	p                    Params
	keys                 int
	latency              time.Duration
	fail                 float64
	attempt              time.Duration
	burstEvery, burstLen time.Duration
	start                time.Time
	nextID               int
	retries              atomic.Int64

	mu      sync.Mutex // the origin: delivery goroutine and tests
	rng     *rand.Rand
	values  map[int64]int64
	applied map[string][]int64 // request_id -> results of each application
	origin  checker.ProxyOrigin
}

// inBurst says whether the run is in a hot-key burst at d.
func (w *proxyWL) inBurst(d time.Duration) bool {
	return w.burstEvery > 0 && d >= w.burstEvery && d%w.burstEvery < w.burstLen
}

func (w *proxyWL) Next(int, int) Invocation {
	r := w.p.Rand
	if w.inBurst(time.Since(w.start)) {
		if r.IntN(20) == 0 {
			return w.incr(0)
		}
		return Invocation{F: "get", Value: history.KV{Key: 0}}
	}
	if r.IntN(2) == 0 {
		return w.incr(int64(r.IntN(w.keys)))
	}
	// Outside bursts nobody reads the hot key, so that every origin read
	// of it is a burst's.
	return Invocation{F: "get", Value: history.KV{Key: int64(1 + r.IntN(w.keys-1))}}
}

func (w *proxyWL) incr(key int64) Invocation {
	w.nextID++
	return Invocation{F: "incr", Value: checker.ProxyIncr{Key: key, RequestID: "r" + strconv.Itoa(w.nextID)}}
}

func (w *proxyWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	var body map[string]any
	idem := inv.F == "get"
	switch v := inv.Value.(type) {
	case history.KV:
		body = map[string]any{"type": "get", "key": v.Key}
	case checker.ProxyIncr:
		body = map[string]any{"type": "incr", "key": v.Key, "request_id": v.RequestID}
	}
	var raw json.RawMessage
	var err error
	for attempt := 0; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if w.attempt > 0 {
			actx, cancel = context.WithTimeout(ctx, w.attempt)
		}
		raw, err = c.RPC(actx, body)
		cancel()
		if err == nil || ctx.Err() != nil || w.attempt == 0 || !errors.Is(err, context.DeadlineExceeded) {
			break
		}
		w.retries.Add(1) // the same request, the same request_id
	}
	if err != nil {
		return Outcome(err, true, idem)
	}
	m, err := Decode(raw, inv.F+"_ok", Field{Name: "value"})
	if err != nil {
		return Outcome(err, true, idem)
	}
	n, err := decodeInt(m["value"], "value")
	if err != nil {
		return Outcome(err, true, idem)
	}
	switch v := inv.Value.(type) {
	case history.KV:
		v.Value = &n
		return ok(v)
	case checker.ProxyIncr:
		v.Result = &n
		return ok(v)
	}
	return ok(nil)
}

func (w *proxyWL) Services() []string { return []string{proxyOrigin} }

type originRequest struct {
	Type      string  `json:"type"`
	MsgID     *int64  `json:"msg_id"`
	Key       *int64  `json:"key"`
	RequestID *string `json:"request_id"`
}

// HandleService is the origin.
func (w *proxyWL) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req originRequest
	if err := json.Unmarshal(body, &req); err != nil || req.MsgID == nil {
		return
	}
	reply := map[string]any{"in_reply_to": *req.MsgID}
	now := time.Since(w.start)
	w.mu.Lock()
	delay := w.latency/2 + time.Duration(w.rng.Int64N(int64(w.latency)+1))
	switch {
	case req.Type != "get" && req.Type != "incr":
		w.origin.Other++
		reply["type"], reply["code"], reply["text"] = "error", 10, fmt.Sprintf("the origin serves get and incr, not %q", req.Type)
	case req.Key == nil || (req.Type == "incr" && req.RequestID == nil):
		w.origin.Other++
		reply["type"], reply["code"], reply["text"] = "error", 12, "the origin needs an integer key (and a request_id, to incr)"
	case w.fail > 0 && w.rng.Float64() < w.fail:
		w.origin.Refused++
		reply["type"], reply["code"], reply["text"] = "error", 11, "the origin is busy; nothing was done"
	case req.Type == "get":
		k := *req.Key
		w.origin.Gets++
		if k == 0 {
			w.origin.HotGets++
		}
		reply["type"], reply["value"] = "get_ok", w.values[k]
	default:
		k := *req.Key
		w.origin.Incrs++
		w.values[k]++
		v := w.values[k]
		w.applied[*req.RequestID] = append(w.applied[*req.RequestID], v)
		w.origin.Changes = append(w.origin.Changes, checker.ProxyChange{Key: k, Value: v, At: now, RequestID: *req.RequestID})
		reply["type"], reply["value"] = "incr_ok", v
	}
	w.mu.Unlock()
	out, _ := json.Marshal(reply)
	time.AfterFunc(delay, func() { send(src, out) })
}

func (w *proxyWL) Check(h history.History) checker.Result {
	w.mu.Lock()
	o := w.origin
	o.Changes = append([]checker.ProxyChange(nil), w.origin.Changes...)
	w.mu.Unlock()
	o.ClientRetries = int(w.retries.Load())
	return checker.Proxy(h, o)
}
