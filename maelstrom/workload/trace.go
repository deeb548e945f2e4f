package workload

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// trace (ours, the tracer track): clients make traced calls that hop
// across nodes, push metric samples, query them, and read the alerts the
// nodes' rule raised.
//
//	{"type":"call","traceparent":"00-<32 hex>-<16 hex>-01","path":["n1","n0","n2"]} -> {"type":"call_ok"}
//	{"type":"push","samples":[{"metric":"requests_total","labels":{"route":"a","status":"200"},"t":7000,"v":31}, ...]}
//	                                                                                  -> {"type":"push_ok"}
//	{"type":"query","query":{"fn":"sum_rate","metric":"requests_total","by":"route","window":10000,"at":21000}}
//	                                                  -> {"type":"query_ok","result":{"a":1.5,"b":0.2,"c":0.7}}
//	{"type":"query","query":{"fn":"quantile","q":0.9,"metric":"latency_seconds_bucket","window":10000,"at":21000}}
//	                                                  -> {"type":"query_ok","result":0.23}   (null: no data)
//	{"type":"rule","rule":{"name":"queue-deep","metric":"queue_depth","labels":{},"threshold":50,"for":5000}} -> {"type":"rule_ok"}
//	{"type":"traces"} -> {"type":"traces_ok","traces":{"<trace id>":[{"span":"<16 hex>","parent":"<16 hex>","node":"n1","name":"call"}, ...]}}
//	{"type":"alerts"} -> {"type":"alerts_ok","events":[{"rule":"queue-deep","state":"firing","t":12000}, ...]}
//	{"type":"stats"}  -> {"type":"stats_ok","series":12,"samples":900,"compressed":520,"bytes":610}
//
// A call goes to path[0] (the client's node), which must start a span as
// the child of the traceparent's span and pass the call on to path[1]
// with its own span as parent, and so on. A quarter of the calls are not
// sampled (flags 00): no node may record them. Pushes carry one scrape
// tick's samples (tick k at t = 1000k ms): six requests_total counters
// (one of them resets once), a latency histogram's cumulative buckets
// (le 0.05, 0.1, 0.25, 0.5, +Inf) and the queue_depth gauge. Queries ask
// at a tick a few behind the newest. Each node's setup installs the rule
// (the same rule from every node). The final phase reads the traces, the
// alert transitions and the store's size. Checker: checker.Trace.
func init() {
	Register(func() Spec {
		return Spec{Name: "trace", Description: "traced calls across nodes, metric pushes, queries and an alert rule (ours)",
			Final: true, Reusable: true,
			Timeout: func(lat time.Duration) time.Duration { return max(20*lat, 2*time.Second) },
			Flags: []Flag{
				{Name: "alert-bound", Default: "0", Usage: "milliseconds of sample time an alert transition may be reported after the sample that caused it"},
				{Name: "max-hops", Default: "4", Usage: "longest call path"},
			},
			New: newTrace}
	})
}

// traceReplyFields are the keys each reply must carry.
var traceReplyFields = map[string][]Field{
	"query":  {{Name: "result"}},
	"traces": {{Name: "traces"}},
	"alerts": {{Name: "events"}},
	"stats":  {{Name: "series"}, {Name: "samples"}, {Name: "compressed"}, {Name: "bytes"}},
}

// traceRule is the rule every run installs.
var traceRule = checker.TraceRule{Name: "queue-deep", Metric: "queue_depth", Labels: map[string]string{}, Threshold: 50, For: 5000}

func newTrace(p Params) (Instance, error) {
	bound, err := p.FlagNumber("alert-bound", 0, 1e9)
	if err != nil {
		return nil, err
	}
	hops, err := p.FlagNumber("max-hops", 1, 16)
	if err != nil {
		return nil, err
	}
	w := &traceWL{p: p, bound: int64(bound), hops: int(hops), counters: map[string]float64{}}
	return w, nil
}

type traceWL struct {
	p     Params
	bound int64
	hops  int

	// generator state
	tick     int64
	counters map[string]float64
	buckets  [5]float64
	queue    float64
	high     int // ticks left in the current high (>50) or low regime
	up       bool
}

func (w *traceWL) Setup(ctx context.Context, _ string, c Caller) error {
	raw, err := c.RPC(ctx, map[string]any{"type": "rule", "rule": traceRule})
	if err == nil {
		_, err = Decode(raw, "rule_ok")
	}
	return err
}

var traceRoutes = []string{"a", "b", "c"}

// nextPush draws tick w.tick's samples.
func (w *traceWL) nextPush() checker.TracePush {
	w.tick++
	r := w.p.Rand
	t := w.tick * 1000
	var s []checker.TraceSample
	for i, route := range traceRoutes {
		for _, status := range []string{"200", "500"} {
			k := route + status
			rate := []float64{5, 2, 0.5}[i]
			if status == "500" {
				rate /= 10
			}
			w.counters[k] += math.Floor(rate*2*r.Float64() + 0.5)
			if k == "a200" && w.tick == 30 {
				w.counters[k] = 0 // a restarted process: a counter reset
			}
			s = append(s, checker.TraceSample{Metric: "requests_total", Labels: map[string]string{"route": route, "status": status}, T: t, V: w.counters[k]})
		}
	}
	// Observations this tick, spread over the buckets.
	for range 3 + r.IntN(8) {
		lat := r.ExpFloat64() * 0.12
		for i, le := range []float64{0.05, 0.1, 0.25, 0.5, math.Inf(1)} {
			if lat <= le {
				w.buckets[i]++
			}
		}
	}
	for i, le := range []string{"0.05", "0.1", "0.25", "0.5", "+Inf"} {
		s = append(s, checker.TraceSample{Metric: "latency_seconds_bucket", Labels: map[string]string{"le": le}, T: t, V: w.buckets[i]})
	}
	// queue_depth alternates regimes of 1 to 12 ticks above or below the
	// threshold, so that some highs are too short to fire.
	if w.high <= 0 {
		w.up = !w.up
		w.high = 1 + r.IntN(12)
	}
	w.high--
	if w.up {
		w.queue = 55 + float64(r.IntN(40))
	} else {
		w.queue = float64(r.IntN(45))
	}
	s = append(s, checker.TraceSample{Metric: "queue_depth", Labels: map[string]string{}, T: t, V: w.queue})
	return checker.TracePush{Tick: w.tick, Samples: s}
}

// randHex draws a non-zero id from the run's seeded generator, so that a
// seed replays the same trace ids.
func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		for _, x := range b {
			if x != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}

func (w *traceWL) Next(int, int) Invocation {
	r := w.p.Rand
	x := r.IntN(10)
	switch {
	case x < 4 || w.tick < 15:
		return Invocation{F: "push", Value: w.nextPush()}
	case x < 8:
		n := 1 + r.IntN(w.hops)
		path := make([]string, 0, n)
		for len(path) < n {
			path = append(path, w.p.NodeIDs[r.IntN(len(w.p.NodeIDs))])
		}
		// path[0] is replaced by the client's own node in Invoke.
		return Invocation{F: "call", Value: checker.TraceCall{TraceID: randHex(r, 16), Parent: randHex(r, 8), Sampled: r.IntN(4) != 0, Path: path}}
	default:
		at := (w.tick - 3 - int64(r.IntN(8))) * 1000
		q := checker.TraceQuery{Fn: "sum_rate", Metric: "requests_total", By: []string{"route", "status"}[r.IntN(2)], Window: 10000, At: at}
		if r.IntN(2) == 0 {
			q = checker.TraceQuery{Fn: "quantile", Metric: "latency_seconds_bucket", Q: []float64{0.5, 0.9, 0.99}[r.IntN(3)], Window: 10000, At: at}
		}
		return Invocation{F: "query", Value: q}
	}
}

// Final: one worker reads everything, after the quiet period.
func (w *traceWL) Final(thread int) []Invocation {
	if thread != 0 {
		return nil
	}
	return []Invocation{{F: "traces"}, {F: "alerts"}, {F: "stats"}}
}

func (w *traceWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	var body map[string]any
	switch v := inv.Value.(type) {
	case checker.TraceCall:
		v.Path = append([]string{c.Node()}, v.Path[1:]...)
		inv.Value = v
		flags := "00"
		if v.Sampled {
			flags = "01"
		}
		body = map[string]any{"type": "call", "traceparent": "00-" + v.TraceID + "-" + v.Parent + "-" + flags, "path": v.Path}
	case checker.TracePush:
		body = map[string]any{"type": "push", "samples": v.Samples}
	case checker.TraceQuery:
		body = map[string]any{"type": "query", "query": v}
	default:
		body = map[string]any{"type": inv.F}
	}
	raw, err := c.RPC(ctx, body)
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, inv.F+"_ok", traceReplyFields[inv.F]...)
	}
	if err != nil {
		comp := Outcome(err, true, inv.F != "call" && inv.F != "push")
		comp.Value = inv.Value
		return comp
	}
	switch inv.F {
	case "query":
		q := inv.Value.(checker.TraceQuery)
		if q.Fn == "quantile" {
			var f *float64
			if err := json.Unmarshal(m["result"], &f); err != nil {
				return Outcome(&MalformedError{Reason: "quantile result must be a number or null: " + err.Error()}, true, false)
			}
			return ok(f)
		}
		var res map[string]float64
		if err := json.Unmarshal(m["result"], &res); err != nil || res == nil {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("sum_rate result must be an object of numbers, got %s", m["result"])}, true, false)
		}
		return ok(res)
	case "traces":
		var t map[string][]checker.TraceSpan
		if err := json.Unmarshal(m["traces"], &t); err != nil || t == nil {
			return Outcome(&MalformedError{Reason: "traces must be an object of span arrays"}, true, false)
		}
		return ok(t)
	case "alerts":
		var ev []checker.TraceAlert
		if err := json.Unmarshal(m["events"], &ev); err != nil || ev == nil {
			return Outcome(&MalformedError{Reason: "events must be an array of {rule, state, t}"}, true, false)
		}
		return ok(ev)
	case "stats":
		var st checker.TraceStats
		for k, dst := range map[string]*int{"series": &st.Series, "samples": &st.Samples, "compressed": &st.Compressed, "bytes": &st.Bytes} {
			n, err := strconv.Atoi(string(m[k]))
			if err != nil {
				return Outcome(&MalformedError{Reason: "stats_ok needs integer " + k}, true, false)
			}
			*dst = n
		}
		return ok(st)
	}
	return ok(inv.Value)
}

func (w *traceWL) Check(h history.History) checker.Result {
	return checker.Trace(h, checker.TraceParams{Rule: traceRule, AlertBound: w.bound})
}
