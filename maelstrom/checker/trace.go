package checker

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// TraceSample is one sample the trace workload pushes: a metric, its
// labels, a time in milliseconds of sample time, a value.
type TraceSample struct {
	Metric string            `json:"metric"`
	Labels map[string]string `json:"labels"`
	T      int64             `json:"t"`
	V      float64           `json:"v"`
}

// TracePush is a push operation's value: one scrape tick's samples.
type TracePush struct {
	Tick    int64         `json:"tick"`
	Samples []TraceSample `json:"samples"`
}

// TraceCall is a call operation's value: the trace context the client
// sent (its own span is the parent of the first node's) and the nodes the
// call must visit, in order.
type TraceCall struct {
	TraceID string   `json:"trace_id"`
	Parent  string   `json:"parent"`
	Sampled bool     `json:"sampled"`
	Path    []string `json:"path"`
}

// TraceQuery is a query operation's value. Fn "sum_rate" is `sum by (By)
// (rate(Metric[Window]))` at At; "quantile" is `histogram_quantile(Q, sum
// by (le) (rate(Metric[Window])))`. Times in milliseconds.
type TraceQuery struct {
	Fn     string  `json:"fn"`
	Metric string  `json:"metric"`
	By     string  `json:"by,omitempty"`
	Q      float64 `json:"q,omitempty"`
	Window int64   `json:"window"`
	At     int64   `json:"at"`
}

// TraceSpan is a span as a node's collector reports it.
type TraceSpan struct {
	Span   string `json:"span"`
	Parent string `json:"parent"`
	Node   string `json:"node"`
	Name   string `json:"name"`
}

// TraceRule is the alert rule the workload installs: firing once Metric
// (the series without labels) has stayed above Threshold for For
// milliseconds of sample time, resolved at the first sample not above.
type TraceRule struct {
	Name      string            `json:"name"`
	Metric    string            `json:"metric"`
	Labels    map[string]string `json:"labels"`
	Threshold float64           `json:"threshold"`
	For       int64             `json:"for"`
}

// TraceAlert is a rule transition reported by the nodes.
type TraceAlert struct {
	Rule  string `json:"rule"`
	State string `json:"state"`
	T     int64  `json:"t"`
}

// TraceStats is the store's size as the node reports it.
type TraceStats struct {
	Series     int `json:"series"`
	Samples    int `json:"samples"`
	Compressed int `json:"compressed"`
	Bytes      int `json:"bytes"`
}

// TraceParams are what the trace checker needs besides the history.
type TraceParams struct {
	Rule TraceRule
	// AlertBound is how late (sample time, ms) an alert transition may be
	// reported after the sample that caused it.
	AlertBound int64
}

// TraceDetails are the trace checker's figures.
type TraceDetails struct {
	Calls          int     `json:"calls"`
	SampledTraces  int     `json:"sampled-traces"`
	Spans          int     `json:"spans"`
	Orphans        int     `json:"orphans"`
	Queries        int     `json:"queries"`
	QueriesChecked int     `json:"queries-checked"`
	Alerts         int     `json:"alert-transitions"`
	Samples        int     `json:"samples"`
	BytesPerSample float64 `json:"bytes-per-sample"`
}

// Trace checks the trace workload. Traces: every acknowledged sampled
// call's trace holds one span per node of its path, each the child of the
// span before (the first the child of the client's span), with no orphan
// (a parent found neither in the trace nor as the client's span), no cycle
// and no duplicate; an unsampled call leaves no trace. Queries: each
// answer equals the grader's own computation over the pushes acknowledged
// before the query began, when no push it depends on was still in flight
// or uncertain (such queries are counted, not judged). Alerts: the rule's
// transitions equal the grader's evaluation of the acknowledged samples,
// each reported at most AlertBound after its sample. Bytes per sample are
// reported from the node's figures.
func Trace(h history.History, p TraceParams) Result {
	res := Result{Checker: "trace", Valid: Valid}
	var d TraceDetails
	ops := pairUp(h)
	var pushes []op
	var traces map[string][]TraceSpan
	var tracesOp *op
	var alerts []TraceAlert
	var alertsOp *op
	gotAlerts := false
	for i, o := range ops {
		if o.invoke.Process < 0 || o.completion == nil {
			continue
		}
		switch o.invoke.F {
		case "push":
			pushes = append(pushes, o)
		case "traces":
			if o.outcome() == history.OK {
				traces, _ = o.completion.Value.(map[string][]TraceSpan)
				tracesOp = &ops[i]
			}
		case "alerts":
			if o.outcome() == history.OK {
				alerts, _ = o.completion.Value.([]TraceAlert)
				alertsOp = &ops[i]
				gotAlerts = true
			}
		case "stats":
			if st, ok := o.completion.Value.(TraceStats); ok && o.outcome() == history.OK {
				d.Samples = st.Samples
				if st.Compressed > 0 {
					d.BytesPerSample = float64(st.Bytes) / float64(st.Compressed)
				}
			}
		}
	}
	if tracesOp == nil {
		res.Valid = Worst(res.Valid, Unknown)
		res.Warnings = append(res.Warnings, "the final traces read did not succeed: traces not judged")
	} else {
		checkTraces(&res, &d, ops, traces, tracesOp)
	}
	for _, o := range ops {
		if o.invoke.F == "query" && o.invoke.Process >= 0 && o.outcome() == history.OK {
			d.Queries++
			checkQuery(&res, &d, o, pushes)
		}
	}
	if !gotAlerts {
		res.Valid = Worst(res.Valid, Unknown)
		res.Warnings = append(res.Warnings, "the final alerts read did not succeed: alerts not judged")
	} else {
		d.Alerts = len(alerts)
		checkAlerts(&res, alertsOp, alerts, pushes, p)
	}
	res.Details = d
	res.finish(fmt.Sprintf("%d calls, %d sampled traces complete (%d spans, %d orphans); %d/%d queries judged equal to the reference; %d alert transitions; %d samples stored at %.2f bytes/sample compressed",
		d.Calls, d.SampledTraces, d.Spans, d.Orphans, d.QueriesChecked, d.Queries, d.Alerts, d.Samples, d.BytesPerSample))
	return res
}

func checkTraces(res *Result, d *TraceDetails, ops []op, traces map[string][]TraceSpan, final *op) {
	known := map[string]bool{}
	for _, o := range ops {
		c, ok := o.invoke.Value.(TraceCall)
		if !ok || o.invoke.Process < 0 {
			continue
		}
		known[c.TraceID] = true
		if o.invoke.Node != "" && len(c.Path) > 0 {
			// The first hop is the node the client is bound to.
			c.Path = append([]string{o.invoke.Node}, c.Path[1:]...)
		}
		if o.outcome() != history.OK {
			continue
		}
		d.Calls++
		spans, have := traces[c.TraceID]
		if !c.Sampled {
			if have && len(spans) > 0 {
				res.add(Violation{What: "unsampled trace recorded", Node: spans[0].Node, Op: o.observed(), Value: c.TraceID, Time: o.completion.Time,
					Detail: fmt.Sprintf("trace %s was sent with the sampled flag off, yet the collector holds %d spans of it: the head-sampling decision must travel with the context and be obeyed", c.TraceID, len(spans))})
			}
			continue
		}
		if !checkOneTrace(res, d, o, c, spans) {
			continue
		}
		d.SampledTraces++
	}
	for id := range traces {
		if !known[id] {
			res.add(Violation{What: "unknown trace", Op: final.observed(), Value: id, Time: final.completion.Time,
				Detail: fmt.Sprintf("the collector reports trace %s, which no client started: a node started a new trace instead of continuing the caller's", id)})
			break
		}
	}
}

// checkOneTrace judges one acknowledged sampled call's trace.
func checkOneTrace(res *Result, d *TraceDetails, o op, c TraceCall, spans []TraceSpan) bool {
	byID := map[string]TraceSpan{}
	for _, s := range spans {
		if _, dup := byID[s.Span]; dup {
			res.add(Violation{What: "duplicate span", Node: s.Node, Op: o.observed(), Value: s.Span, Time: o.completion.Time,
				Detail: fmt.Sprintf("span %s appears twice in trace %s", s.Span, c.TraceID)})
			return false
		}
		byID[s.Span] = s
	}
	orphans := 0
	for _, s := range spans {
		if _, ok := byID[s.Parent]; !ok && s.Parent != c.Parent {
			if orphans == 0 {
				res.add(Violation{What: "orphan span", Node: s.Node, Op: o.observed(), Value: s.Span, Time: o.completion.Time,
					Detail: fmt.Sprintf("span %s (on %s) of trace %s names parent %s, which is neither in the trace nor the client's span %s: a span was lost on its way to the collector",
						s.Span, s.Node, c.TraceID, s.Parent, c.Parent)})
			}
			orphans++
		}
	}
	if orphans > 0 {
		d.Orphans += orphans
		return false
	}
	for _, s := range spans {
		// Walk up: a cycle never reaches the client's span.
		seen := map[string]bool{}
		for cur := s; cur.Parent != c.Parent; cur = byID[cur.Parent] {
			if seen[cur.Span] {
				res.add(Violation{What: "cycle", Node: s.Node, Op: o.observed(), Value: s.Span, Time: o.completion.Time,
					Detail: fmt.Sprintf("following parents from span %s of trace %s comes back to %s", s.Span, c.TraceID, cur.Span)})
				return false
			}
			seen[cur.Span] = true
			if _, ok := byID[cur.Parent]; !ok {
				break
			}
		}
	}
	parent := c.Parent
	for i, want := range c.Path {
		var found *TraceSpan
		for _, s := range spans {
			if s.Parent == parent {
				found = &s
				break
			}
		}
		if found == nil || found.Node != want {
			got := "no span"
			if found != nil {
				got = "a span on " + found.Node
			}
			res.add(Violation{What: "missing span", Node: want, Op: o.observed(), Value: c.TraceID, Time: o.completion.Time,
				Detail: fmt.Sprintf("trace %s visited %v; hop %d (on %s) should be the child of %s, found %s", c.TraceID, c.Path, i+1, want, parent, got)})
			return false
		}
		parent = found.Span
	}
	if len(spans) != len(c.Path) {
		res.add(Violation{What: "extra spans", Node: c.Path[0], Op: o.observed(), Value: c.TraceID, Time: o.completion.Time,
			Detail: fmt.Sprintf("trace %s visited %d nodes but holds %d spans", c.TraceID, len(c.Path), len(spans))})
		return false
	}
	d.Spans += len(spans)
	return true
}

// known reports whether every push with a sample in [lo, hi] was settled
// before time t (acknowledged, or failed definitely), and returns the
// samples of the acknowledged ones.
func settledSamples(pushes []op, lo, hi int64, before *int) ([]TraceSample, bool) {
	var out []TraceSample
	for _, o := range pushes {
		v := o.invoke.Value.(TracePush)
		if v.Tick*1000 < lo || v.Tick*1000 > hi {
			continue
		}
		switch {
		case o.outcome() == history.Fail:
			continue
		case o.outcome() != history.OK:
			return nil, false
		case before != nil && o.comp > *before:
			return nil, false
		}
		out = append(out, v.Samples...)
	}
	return out, true
}

type traceSeries struct {
	labels map[string]string
	ts     []int64
	vs     []float64
}

func groupSeries(samples []TraceSample, metric string) []*traceSeries {
	by := map[string]*traceSeries{}
	for _, s := range samples {
		if s.Metric != metric {
			continue
		}
		keys := slices.Sorted(maps.Keys(s.Labels))
		var k strings.Builder
		for _, l := range keys {
			fmt.Fprintf(&k, "%s=%q,", l, s.Labels[l])
		}
		se := by[k.String()]
		if se == nil {
			se = &traceSeries{labels: s.Labels}
			by[k.String()] = se
		}
		se.ts = append(se.ts, s.T)
		se.vs = append(se.vs, s.V)
	}
	out := make([]*traceSeries, 0, len(by))
	for _, k := range slices.Sorted(maps.Keys(by)) {
		se := by[k]
		idx := make([]int, len(se.ts))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return se.ts[idx[a]] < se.ts[idx[b]] })
		ts, vs := make([]int64, len(idx)), make([]float64, len(idx))
		for i, j := range idx {
			ts[i], vs[i] = se.ts[j], se.vs[j]
		}
		se.ts, se.vs = ts, vs
		out = append(out, se)
	}
	return out
}

// refRate is the grader's rate: increase over the samples in (at-w, at],
// a drop counting as a restart from zero, per second between the first and
// last of them.
func refRate(se *traceSeries, w, at int64) (float64, bool) {
	n, inc := 0, 0.0
	var t0, tl int64
	var prev float64
	for i, t := range se.ts {
		if t <= at-w || t > at {
			continue
		}
		v := se.vs[i]
		switch {
		case n == 0:
			t0 = t
		case v >= prev:
			inc += v - prev
		default:
			inc += v
		}
		prev, tl = v, t
		n++
	}
	if n < 2 || tl == t0 {
		return 0, false
	}
	return inc / (float64(tl-t0) / 1000), true
}

func refSumRate(samples []TraceSample, q TraceQuery, by string) map[string]float64 {
	out := map[string]float64{}
	for _, se := range groupSeries(samples, q.Metric) {
		if r, ok := refRate(se, q.Window, q.At); ok {
			out[se.labels[by]] += r
		}
	}
	return out
}

// refQuantile interpolates within the bucket where the rank falls, as
// Prometheus's histogram_quantile does.
func refQuantile(samples []TraceSample, q TraceQuery) *float64 {
	byLE := refSumRate(samples, q, "le")
	type bucket struct{ le, n float64 }
	var bs []bucket
	for le, n := range byLE {
		v, err := strconv.ParseFloat(le, 64)
		if err == nil {
			bs = append(bs, bucket{v, n})
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	if len(bs) < 2 || !math.IsInf(bs[len(bs)-1].le, 1) || bs[len(bs)-1].n <= 0 {
		return nil
	}
	rank := q.Q * bs[len(bs)-1].n
	prevLE, prevN := 0.0, 0.0
	for i, b := range bs {
		if b.n >= rank {
			var v float64
			switch {
			case math.IsInf(b.le, 1):
				v = prevLE
			case (i == 0 && b.le <= 0) || b.n == prevN:
				v = b.le
			default:
				v = prevLE + (b.le-prevLE)*(rank-prevN)/(b.n-prevN)
			}
			return &v
		}
		prevLE, prevN = b.le, b.n
	}
	return &prevLE
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func checkQuery(res *Result, d *TraceDetails, o op, pushes []op) {
	q := o.invoke.Value.(TraceQuery)
	samples, ok := settledSamples(pushes, q.At-q.Window, q.At, &o.inv)
	if !ok {
		return
	}
	d.QueriesChecked++
	bad := func(want, got any) {
		res.add(Violation{What: "wrong query result", Node: o.node(), Op: o.observed(), Value: got, Time: o.completion.Time,
			Detail: fmt.Sprintf("%s of %s (by %q, q %g) over (%d, %d] ms answered %v; the acknowledged samples give %v", q.Fn, q.Metric, q.By, q.Q, q.At-q.Window, q.At, got, want)})
	}
	switch q.Fn {
	case "sum_rate":
		want := refSumRate(samples, q, q.By)
		got, _ := o.completion.Value.(map[string]float64)
		if len(got) != len(want) {
			bad(want, got)
			return
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || !near(g, v) {
				bad(want, got)
				return
			}
		}
	case "quantile":
		want := refQuantile(samples, q)
		got, _ := o.completion.Value.(*float64)
		if (want == nil) != (got == nil) || (want != nil && !near(*want, *got)) {
			show := func(p *float64) any {
				if p == nil {
					return nil
				}
				return *p
			}
			bad(show(want), show(got))
		}
	}
}

// TraceSumRate, TraceQuantile and TraceAlerts are the grader's reference
// computations over a set of samples (exported for the grader's tests).
func TraceSumRate(samples []TraceSample, q TraceQuery) map[string]float64 {
	return refSumRate(samples, q, q.By)
}

func TraceQuantile(samples []TraceSample, q TraceQuery) *float64 { return refQuantile(samples, q) }

// TraceAlerts evaluates a rule at every sample of its series, in time order.
func TraceAlerts(samples []TraceSample, r TraceRule) []TraceAlert {
	want := []TraceAlert{}
	for _, se := range groupSeries(samples, r.Metric) {
		if !maps.Equal(se.labels, r.Labels) && (len(se.labels) != 0 || len(r.Labels) != 0) {
			continue
		}
		pending, firing := false, false
		var since int64
		for i, t := range se.ts {
			if se.vs[i] > r.Threshold {
				if !pending {
					pending, since = true, t
				}
				if !firing && t-since >= r.For {
					firing = true
					want = append(want, TraceAlert{r.Name, "firing", t})
				}
				continue
			}
			if firing {
				want = append(want, TraceAlert{r.Name, "resolved", t})
			}
			pending, firing = false, false
		}
	}
	return want
}

func checkAlerts(res *Result, o *op, got []TraceAlert, pushes []op, p TraceParams) {
	samples, ok := settledSamples(pushes, math.MinInt64, math.MaxInt64, nil)
	if !ok {
		res.Warnings = append(res.Warnings, "some push had an uncertain outcome: alerts not judged")
		return
	}
	want := TraceAlerts(samples, p.Rule)
	for i, w := range want {
		if i >= len(got) || got[i].Rule != w.Rule || got[i].State != w.State || got[i].T < w.T || got[i].T > w.T+p.AlertBound {
			var g any = "nothing"
			if i < len(got) {
				g = got[i]
			}
			res.add(Violation{What: "wrong alert", Node: o.node(), Op: o.observed(), Value: g, Time: o.completion.Time,
				Detail: fmt.Sprintf("alert transition %d of rule %s should be %s at %d ms (within %d ms), the nodes report %v", i+1, w.Rule, w.State, w.T, p.AlertBound, g)})
			return
		}
	}
	if len(got) > len(want) {
		res.add(Violation{What: "spurious alert", Node: o.node(), Op: o.observed(), Value: got[len(want)], Time: o.completion.Time,
			Detail: fmt.Sprintf("the nodes report %d transitions of rule %s, the samples give %d; the first extra is %v", len(got), p.Rule.Name, len(want), got[len(want)])})
	}
}
