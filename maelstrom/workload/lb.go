package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// lb: the loadbalancers track's workload (ours). Clients send requests to
// the nodes, which are load balancers; the backends are services the
// grader runs itself, named b0, b1, ...:
//
//	client -> node    {"type":"request","key":k}  -> {"type":"request_ok","backend":"b2"}
//	node -> backend   {"type":"serve","key":k}    -> {"type":"serve_ok","backend":"b2"}
//	node -> backend   {"type":"health"}           -> {"type":"health_ok"}
//
// Requests are idempotent: a balancer may retry one on another backend.
// Backend i answers after a random latency in [L/2, 3L/2], L the i-th of
// --latencies (which also sets how many backends there are). With --fail,
// b1 refuses that fraction of serve requests with error 11 (it still
// passes health checks). With --flap P, b2 answers nothing during the
// second half of every P seconds. With --kill-at T, the last backend
// answers nothing from T seconds on. A backend that is down receives
// requests but never answers them, nor health checks. b0 never fails.
//
// The checker (checker.LB) wants every request answered and no request to
// reach a down backend more than --eject-within milliseconds after it went
// down.
func init() {
	Register(func() Spec {
		return Spec{Name: "lb", Description: "requests through balancing nodes to backends that are slow, failing, flapping or killed (ours)",
			Reusable: true,
			Flags: []Flag{
				{Name: "latencies", Default: "20,20,40,80", Usage: "mean milliseconds of each backend b0,b1,...; their number is the number of backends"},
				{Name: "keys", Default: "100", Usage: "number of request keys"},
				{Name: "fail", Default: "0", Usage: "fraction of b1's requests refused with error 11"},
				{Name: "flap", Default: "0", Usage: "seconds per flap of b2, which is down for the second half of each (0: never)"},
				{Name: "kill-at", Default: "0", Usage: "seconds after which the last backend answers nothing (0: never)"},
				{Name: "eject-within", Default: "1500", Usage: "milliseconds after a backend goes down by which requests to it must stop"},
			},
			New: newLB,
		}
	})
}

func newLB(p Params) (Instance, error) {
	f := p.Flags
	num := p.FlagNumber
	w := &lbWL{p: p, rng: rand.New(rand.NewPCG(p.Rand.Uint64(), p.Rand.Uint64())), byName: map[string]int{}}
	for i, s := range strings.Split(f["latencies"], ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v < 0 || v > 60000 {
			return nil, fmt.Errorf("--latencies %q: want comma-separated milliseconds from 0 to 60000", f["latencies"])
		}
		name := "b" + strconv.Itoa(i)
		w.names = append(w.names, name)
		w.latency = append(w.latency, time.Duration(v*float64(time.Millisecond)))
		w.byName[name] = i
	}
	if len(w.names) < 2 || len(w.names) > 64 {
		return nil, fmt.Errorf("--latencies %q: want from 2 to 64 backends", f["latencies"])
	}
	var vals [5]float64
	for i, c := range []struct {
		name   string
		lo, hi float64
	}{{"keys", 1, 1e9}, {"fail", 0, 1}, {"flap", 0, 3600}, {"kill-at", 0, 1e6}, {"eject-within", 1, 3.6e6}} {
		v, err := num(c.name, c.lo, c.hi)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	w.keys, w.fail = int(vals[0]), vals[1]
	w.flap = time.Duration(vals[2] * float64(time.Second))
	w.killAt = time.Duration(vals[3] * float64(time.Second))
	w.ejectWithin = time.Duration(vals[4] * float64(time.Millisecond))
	if w.flap > 0 && len(w.names) < 4 {
		return nil, fmt.Errorf("--flap needs at least 4 backends (b2 flaps, the last may be killed, b0 stays up)")
	}
	w.start = time.Now()
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

type lbWL struct {
	noSetup
	p           Params
	names       []string
	byName      map[string]int
	latency     []time.Duration
	keys        int
	fail        float64
	flap        time.Duration
	killAt      time.Duration
	ejectWithin time.Duration
	start       time.Time

	mu       sync.Mutex // the backends: delivery goroutine and Check
	rng      *rand.Rand
	arrivals []checker.LBArrival
	refused  int
	health   int
	last     time.Duration // latest time a backend saw
}

func (w *lbWL) Next(int, int) Invocation {
	return Invocation{F: "request", Value: checker.LBRequest{Key: int64(w.p.Rand.IntN(w.keys))}}
}

func (w *lbWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	v := inv.Value.(checker.LBRequest)
	raw, err := c.RPC(ctx, map[string]any{"type": "request", "key": v.Key})
	if err != nil {
		return Outcome(err, true, true)
	}
	m, err := Decode(raw, "request_ok", Field{Name: "backend"})
	if err != nil {
		return Outcome(err, true, true)
	}
	if err := json.Unmarshal(m["backend"], &v.Backend); err != nil {
		return Outcome(&MalformedError{Reason: "backend must be a string: " + string(m["backend"])}, true, true)
	}
	return ok(v)
}

func (w *lbWL) Services() []string { return w.names }

// down says whether backend i answers nothing at d.
func (w *lbWL) down(i int, d time.Duration) bool {
	switch {
	case w.killAt > 0 && i == len(w.names)-1 && d >= w.killAt:
		return true
	case w.flap > 0 && i == 2:
		return d%w.flap >= w.flap/2
	}
	return false
}

// outages lists the spans each backend was down, up to end.
func (w *lbWL) outages(end time.Duration) []checker.LBOutage {
	var out []checker.LBOutage
	if w.flap > 0 {
		for from := w.flap / 2; from < end; from += w.flap {
			out = append(out, checker.LBOutage{Backend: w.names[2], From: from, To: from + w.flap/2})
		}
	}
	if w.killAt > 0 && w.killAt < end {
		out = append(out, checker.LBOutage{Backend: w.names[len(w.names)-1], From: w.killAt})
	}
	return out
}

type lbRequest struct {
	Type  string `json:"type"`
	MsgID *int64 `json:"msg_id"`
	Key   *int64 `json:"key"`
}

// HandleService is every backend.
func (w *lbWL) HandleService(service, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req lbRequest
	if err := json.Unmarshal(body, &req); err != nil || req.MsgID == nil {
		return
	}
	i := w.byName[service]
	now := time.Since(w.start)
	reply := map[string]any{"in_reply_to": *req.MsgID}
	w.mu.Lock()
	w.last = max(w.last, now)
	down := w.down(i, now)
	delay := w.latency[i]/2 + time.Duration(w.rng.Int64N(int64(w.latency[i])+1))
	switch {
	case req.Type == "health":
		w.health++
		reply["type"] = "health_ok"
	case req.Type != "serve":
		reply["type"], reply["code"], reply["text"] = "error", 10, fmt.Sprintf("a backend serves serve and health, not %q", req.Type)
	case req.Key == nil:
		reply["type"], reply["code"], reply["text"] = "error", 12, "serve needs an integer key"
	default:
		w.arrivals = append(w.arrivals, checker.LBArrival{Backend: service, Node: src, Key: *req.Key, At: now})
		if !down && i == 1 && w.fail > 0 && w.rng.Float64() < w.fail {
			w.refused++
			reply["type"], reply["code"], reply["text"] = "error", 11, service+" is refusing requests; nothing was done"
		} else {
			reply["type"], reply["backend"] = "serve_ok", service
		}
	}
	w.mu.Unlock()
	if down {
		return
	}
	out, _ := json.Marshal(reply)
	time.AfterFunc(delay, func() { send(src, out) })
}

func (w *lbWL) Check(h history.History) checker.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := w.last
	for _, o := range h {
		end = max(end, o.Time)
	}
	return checker.LB(h, checker.LBBackends{Names: w.names, Arrivals: append([]checker.LBArrival(nil), w.arrivals...),
		Outages: w.outages(end), Refused: w.refused, HealthChecks: w.health, EjectWithin: w.ejectWithin})
}
