package checker

import (
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var traceTestRule = TraceRule{Name: "deep", Metric: "q", Labels: map[string]string{}, Threshold: 10, For: 2000}

// traceHistory: one sampled call n1 -> n2 -> n1 (client span "c"), a
// push of q at 1..4 s, a query of it, and the final reads, with traces as
// given.
func traceHistory(traces map[string][]TraceSpan, alerts []TraceAlert, sum map[string]float64, push4 history.Type) history.History {
	b := &builder{}
	call := TraceCall{TraceID: "t1", Parent: "c", Sampled: true, Path: []string{"n1", "n2", "n1"}}
	b.call(history.OK, 0, "n1", "call", call, call, 10, 20)
	var pushes []TracePush
	for i, v := range []float64{20, 20, 20, 5} {
		t := int64(i+1) * 1000
		pushes = append(pushes, TracePush{Tick: int64(i + 1), Samples: []TraceSample{{Metric: "q", Labels: map[string]string{}, T: t, V: v}}})
	}
	for i, p := range pushes {
		typ := history.OK
		if i == 3 {
			typ = push4
		}
		b.call(typ, 1, "n1", "push", p, p, 30+10*i, 35+10*i)
	}
	q := TraceQuery{Fn: "sum_rate", Metric: "q", By: "x", Window: 10000, At: 3000}
	b.call(history.OK, 2, "n1", "query", q, sum, 100, 110)
	b.call(history.OK, 3, "n1", "traces", nil, traces, 200, 210)
	b.call(history.OK, 3, "n1", "alerts", nil, alerts, 220, 230)
	return b.h
}

func goodTrace() map[string][]TraceSpan {
	return map[string][]TraceSpan{"t1": {
		{Span: "a", Parent: "c", Node: "n1", Name: "call"},
		{Span: "b", Parent: "a", Node: "n2", Name: "call"},
		{Span: "d", Parent: "b", Node: "n1", Name: "call"},
	}}
}

// q at 1, 2, 3 s: 20, 20, 20; a rate query over (−7, 3] s sees no increase.
var goodSum = map[string]float64{"": 0}

// Above 10 from 1 s; held 2 s at 3 s: fires; resolves at 4 s.
var goodAlerts = []TraceAlert{{"deep", "firing", 3000}, {"deep", "resolved", 4000}}

func traceFirstWhat(t *testing.T, res Result) string {
	t.Helper()
	if res.Valid != Invalid {
		return ""
	}
	v := res.Violations[0]
	if v.Op == nil || v.Value == nil || v.Node == "" {
		t.Fatalf("violation %+v lacks node, op or value", v)
	}
	return v.What
}

func TestTraceValid(t *testing.T) {
	res := Trace(traceHistory(goodTrace(), goodAlerts, goodSum, history.OK), TraceParams{Rule: traceTestRule})
	if res.Valid != Valid {
		t.Fatalf("%s", res.Summary)
	}
	if d := res.Details.(TraceDetails); d.SampledTraces != 1 || d.Spans != 3 || d.QueriesChecked != 1 || d.Alerts != 2 {
		t.Fatalf("details %+v", d)
	}
}

func TestTraceShapes(t *testing.T) {
	for what, mutate := range map[string]func(map[string][]TraceSpan){
		"orphan span": func(m map[string][]TraceSpan) {
			m["t1"] = append(m["t1"][:1], TraceSpan{Span: "d", Parent: "zz", Node: "n1"})
		},
		"cycle":          func(m map[string][]TraceSpan) { m["t1"][0].Parent = "d" },
		"duplicate span": func(m map[string][]TraceSpan) { m["t1"][2].Span = "b" },
		"missing span":   func(m map[string][]TraceSpan) { m["t1"] = m["t1"][:2] },
		"extra spans": func(m map[string][]TraceSpan) {
			m["t1"] = append(m["t1"], TraceSpan{Span: "e", Parent: "a", Node: "n2"})
		},
		"unknown trace": func(m map[string][]TraceSpan) { m["t9"] = []TraceSpan{{Span: "x", Parent: "y", Node: "n1"}} },
		"wrong node":    func(m map[string][]TraceSpan) { m["t1"][1].Node = "n3" },
	} {
		tr := goodTrace()
		mutate(tr)
		res := Trace(traceHistory(tr, goodAlerts, goodSum, history.OK), TraceParams{Rule: traceTestRule})
		want := what
		if what == "wrong node" {
			want = "missing span"
		}
		if what == "unknown trace" {
			// Its violation names the final read's node.
			if res.Valid != Invalid || res.Violations[0].What != want {
				t.Errorf("%s: %s", what, res.Summary)
			}
			continue
		}
		if got := traceFirstWhat(t, res); got != want {
			t.Errorf("%s: got %q: %s", what, got, res.Summary)
		}
	}
}

func TestTraceQueriesAndAlerts(t *testing.T) {
	p := TraceParams{Rule: traceTestRule}
	if got := traceFirstWhat(t, Trace(traceHistory(goodTrace(), goodAlerts, map[string]float64{"": 1}, history.OK), p)); got != "wrong query result" {
		t.Errorf("wrong sum: %q", got)
	}
	if got := traceFirstWhat(t, Trace(traceHistory(goodTrace(), goodAlerts, map[string]float64{}, history.OK), p)); got != "wrong query result" {
		t.Errorf("missing group: %q", got)
	}
	early := []TraceAlert{{"deep", "firing", 1000}, {"deep", "resolved", 4000}}
	if got := traceFirstWhat(t, Trace(traceHistory(goodTrace(), early, goodSum, history.OK), p)); got != "wrong alert" {
		t.Errorf("alert without for: %q", got)
	}
	late := []TraceAlert{{"deep", "firing", 4000}, {"deep", "resolved", 4000}}
	if got := traceFirstWhat(t, Trace(traceHistory(goodTrace(), late, goodSum, history.OK), p)); got != "wrong alert" {
		t.Errorf("late alert: %q", got)
	}
	p.AlertBound = 1000
	late = []TraceAlert{{"deep", "firing", 4000}, {"deep", "resolved", 4000}}
	if res := Trace(traceHistory(goodTrace(), late, goodSum, history.OK), p); res.Valid != Valid {
		t.Errorf("late within the bound: %s", res.Summary)
	}
	p.AlertBound = 0
	if got := traceFirstWhat(t, Trace(traceHistory(goodTrace(), append(goodAlerts, TraceAlert{"deep", "firing", 5000}), goodSum, history.OK), p)); got != "spurious alert" {
		t.Errorf("spurious: %q", got)
	}
	// The last push failed definitely: no resolution is owed.
	if res := Trace(traceHistory(goodTrace(), goodAlerts[:1], goodSum, history.Fail), p); res.Valid != Valid {
		t.Errorf("failed push excluded: %s", res.Summary)
	}
	// Its outcome is unknown: alerts are not judged (a warning says so).
	if res := Trace(traceHistory(goodTrace(), nil, goodSum, history.Info), p); res.Valid != Valid || len(res.Warnings) == 0 {
		t.Errorf("uncertain push: %s %v", res.Summary, res.Warnings)
	}
}
