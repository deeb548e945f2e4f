package maelstrom

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// traceNode is a single-node tracer for the trace workload: it serves
// every hop of a call itself, keeps the samples it is pushed and answers
// queries and alerts with the grader's own reference computations. It is
// correct unless fault names a way to break it:
//
//	orphan     spans after the first hop name a parent nobody recorded
//	unsampled  unsampled traces are recorded too
//	reset      rates ignore counter resets (a drop counts as nothing)
//	nofor      the alert fires at the first sample above the threshold
func traceNode(fault string) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		type span struct {
			Span   string `json:"span"`
			Parent string `json:"parent"`
			Node   string `json:"node"`
			Name   string `json:"name"`
		}
		traces := map[string][]span{}
		var samples []checker.TraceSample
		var rule *checker.TraceRule
		newID := func() string { return fmt.Sprintf("%016x", rand.Uint64()|1) }
		return testnodes.Handlers{Handle: func(nd *testnodes.Node, m testnodes.Msg) error {
			switch m.Type() {
			case "call":
				var tp string
				var path []string
				_ = json.Unmarshal(m.Body["traceparent"], &tp)
				_ = json.Unmarshal(m.Body["path"], &path)
				parts := strings.Split(tp, "-")
				if parts[3] == "01" || fault == "unsampled" {
					parent := parts[2]
					for i := range path {
						id := newID()
						p := parent
						if fault == "orphan" && i > 0 {
							p = newID()
						}
						traces[parts[1]] = append(traces[parts[1]], span{id, p, "n0", "call"})
						parent = id
					}
				}
				nd.Reply(m, map[string]any{"type": "call_ok"})
			case "push":
				var s []checker.TraceSample
				_ = json.Unmarshal(m.Body["samples"], &s)
				samples = append(samples, s...)
				nd.Reply(m, map[string]any{"type": "push_ok"})
			case "query":
				var q checker.TraceQuery
				_ = json.Unmarshal(m.Body["query"], &q)
				in := samples
				if fault == "reset" {
					// Rates computed over values that never drop: a reset
					// is read as "no increase".
					in = nil
					last := map[string]float64{}
					for _, s := range samples {
						k := fmt.Sprint(s.Metric, s.Labels)
						if s.V < last[k] {
							s.V = last[k]
						}
						last[k] = s.V
						in = append(in, s)
					}
				}
				var res any = checker.TraceSumRate(in, q)
				if q.Fn == "quantile" {
					res = checker.TraceQuantile(in, q)
				}
				nd.Reply(m, map[string]any{"type": "query_ok", "result": res})
			case "rule":
				var r checker.TraceRule
				_ = json.Unmarshal(m.Body["rule"], &r)
				rule = &r
				nd.Reply(m, map[string]any{"type": "rule_ok"})
			case "traces":
				nd.Reply(m, map[string]any{"type": "traces_ok", "traces": traces})
			case "alerts":
				r := *rule
				if fault == "nofor" {
					r.For = 0
				}
				nd.Reply(m, map[string]any{"type": "alerts_ok", "events": checker.TraceAlerts(samples, r)})
			case "stats":
				nd.Reply(m, map[string]any{"type": "stats_ok", "series": 12, "samples": len(samples), "compressed": len(samples), "bytes": 16 * len(samples)})
			}
			return nil
		}}
	})
}

func gradeTrace(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, traceNode(fault), "-w", "trace", "--node-count", "1", "--time-limit", "6", "--rate", "50", "--concurrency", "2")
}

func TestTraceCorrectNode(t *testing.T) {
	rep := gradeTrace(t, "")
	wantVerdict(t, rep, checker.Valid)
	res, _ := rep.Result("trace")
	d := res.Details.(checker.TraceDetails)
	if d.SampledTraces < 20 || d.QueriesChecked < 20 || d.Alerts < 2 || d.BytesPerSample != 16 {
		t.Fatalf("trace figures %+v: want traces, judged queries, alert transitions and the node's 16 bytes/sample", d)
	}
}

func TestTraceBrokenNodes(t *testing.T) {
	for fault, what := range map[string]string{
		"orphan":    "orphan span",
		"unsampled": "unsampled trace recorded",
		"reset":     "wrong query result",
		"nofor":     "wrong alert",
	} {
		t.Run(fault, func(t *testing.T) {
			rep := gradeTrace(t, fault)
			wantViolationAmong(t, rep, "trace", what)
		})
	}
}
