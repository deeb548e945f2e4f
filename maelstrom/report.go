package maelstrom

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// OpCounts are outcome counts for one kind of operation.
type OpCounts struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// Report is the outcome of one run.
type Report struct {
	Options Options `json:"-"`
	Seed    uint64  `json:"seed"`
	// Valid is the composed verdict ("worst wins"); Unknown after a crash.
	Valid   checker.Validity `json:"valid"`
	Results []checker.Result `json:"results"` // the workload's checker first
	Crash   *Crash           `json:"crash,omitempty"`

	History   history.History              `json:"-"`
	ByF       map[string]OpCounts          `json:"by_f"`
	Latencies map[string]checker.Quantiles `json:"latencies"`
	Net       netsim.Stats                 `json:"net"`
	// MsgsPerOp divides message counts by client invocations.
	MsgsPerOp        float64 `json:"msgs_per_op"`
	ServerMsgsPerOp  float64 `json:"server_msgs_per_op"`
	MalformedReplies int     `json:"malformed_replies"`
	// ProtocolErrors are dropped stdout lines (first 100; the count is exact).
	ProtocolErrors     []ProtocolError `json:"protocol_errors,omitempty"`
	ProtocolErrorCount int             `json:"protocol_error_count"`
	LateReplies        map[string]int  `json:"late_replies,omitempty"`
	// Faults is the fault schedule: every nemesis step (faults.go).
	Faults []FaultStep `json:"faults,omitempty"`

	// Lag is the grader's own timer lateness in process mode (lag.go).
	Lag *SchedulingLag `json:"scheduling_lag,omitempty"`

	SimDuration time.Duration `json:"duration"` // run time on the run's clock
	StorePath   string        `json:"-"`

	journal  []netsim.Event
	nodeLogs map[string]string
}

// ExitCode is Maelstrom's: 0 valid, 1 invalid, 2 unknown, 255 crash.
func (r *Report) ExitCode() int {
	// A crash ends the run unanalysed (255), unless the workload judges
	// crashes (errors) and found the run invalid.
	if r.Crash != nil && r.Valid != checker.Invalid {
		return 255
	}
	switch r.Valid {
	case checker.Valid:
		return 0
	case checker.Invalid:
		return 1
	}
	return 2
}

// Result returns the result of the named checker, if it ran.
func (r *Report) Result(name string) (checker.Result, bool) {
	for _, res := range r.Results {
		if res.Checker == name {
			return res, true
		}
	}
	return checker.Result{}, false
}

func (r *run) analyse(rep *Report) {
	h := r.rec.history()
	rep.History = h
	rep.Faults = faultSchedule(h)
	rep.journal = r.net.Journal()
	rep.Net = r.net.Stats()
	rep.nodeLogs = map[string]string{}
	for id, n := range r.cl.nodes {
		n.mu.Lock()
		rep.nodeLogs[id] = n.log.String()
		n.mu.Unlock()
	}
	r.rec.mu.Lock()
	rep.ProtocolErrors = append([]ProtocolError(nil), r.rec.protocol...)
	rep.ProtocolErrorCount = r.rec.protoCount
	if len(r.rec.late) > 0 {
		rep.LateReplies = map[string]int{}
		for k, v := range r.rec.late {
			rep.LateReplies[k] = v
		}
	}
	r.rec.mu.Unlock()

	rep.ByF = map[string]OpCounts{}
	invocations := 0
	for _, op := range h {
		if op.Process < 0 {
			continue
		}
		if op.Type == history.Invoke {
			invocations++
			continue
		}
		c := rep.ByF[op.F]
		switch op.Type {
		case history.OK:
			c.OK++
		case history.Fail:
			c.Fail++
		case history.Info:
			c.Info++
		}
		rep.ByF[op.F] = c
		if op.Error != nil && op.Error.Name == "malformed-response" {
			rep.MalformedReplies++
		}
	}
	if invocations > 0 {
		rep.MsgsPerOp = float64(rep.Net.All.MsgCount) / float64(invocations)
		rep.ServerMsgsPerOp = float64(rep.Net.Servers.MsgCount) / float64(invocations)
	}
	rep.Latencies = checker.Latencies(h)

	if rep.Crash != nil {
		if r.judgeCrash(rep, h) {
			return
		}
		rep.Valid = checker.Unknown
		return
	}
	rep.Results = []checker.Result{
		r.inst.Check(h),
		checker.Stats(h),
		checker.AvailabilityOf(h, r.opts.Availability, r.ids),
		protocolResult(rep),
		{Checker: "net", Valid: checker.Valid, Details: rep.Net,
			Summary: fmt.Sprintf("%d messages, %.2f per op (%.2f between servers)", rep.Net.All.MsgCount, rep.MsgsPerOp, rep.ServerMsgsPerOp)},
	}
	if x, ok := r.inst.(workload.ExtraChecker); ok {
		rep.Results = append(rep.Results, x.ExtraChecks(h)...)
	}
	rep.Valid = checker.Valid
	for _, res := range rep.Results {
		rep.Valid = checker.Worst(rep.Valid, res.Valid)
	}
}

// protocolResult judges what nodes printed: any dropped line is invalid,
// since Maelstrom stops listening to a node that does this.
func protocolResult(rep *Report) checker.Result {
	res := checker.Result{Checker: "protocol", Valid: checker.Valid, Summary: "every line nodes printed was a valid message"}
	if rep.ProtocolErrorCount == 0 {
		return res
	}
	res.Valid = checker.Invalid
	res.Summary = fmt.Sprintf("%d line(s) printed by nodes were dropped", rep.ProtocolErrorCount)
	for _, pe := range rep.ProtocolErrors {
		res.Violations = append(res.Violations, checker.Violation{
			What: "bad message line", Node: pe.Node, Value: pe.Line, Time: pe.Time,
			Detail: fmt.Sprintf("at %.3fs: %s. The line was: %s", pe.Time.Seconds(), pe.Message, pe.Line),
		})
	}
	return res
}

// Summary renders the report for a learner.
func (r *Report) Summary() string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "workload %s, %d nodes, %.0fs, rate %g, concurrency %s, seed %d\n",
		o.Workload, o.NodeCount, o.TimeLimit.Seconds(), o.Rate, o.Concurrency, r.Seed)
	if r.Crash != nil && r.Valid == checker.Invalid {
		fmt.Fprintf(&b, "\nA node crashed, which this workload judges:\n%s\n", r.Crash)
	} else if r.Crash != nil {
		fmt.Fprintf(&b, "\nThe test could not be analysed:\n%s\n", r.Crash)
	}
	fs := make([]string, 0, len(r.ByF))
	for f := range r.ByF {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	if len(fs) > 0 {
		w := 12 // wider for long names (errors' malformed-request)
		for _, f := range fs {
			w = max(w, len(f))
		}
		fmt.Fprintf(&b, "\n%-*s ok   fail   info   latency p50 / p95 / p99 / max (ok ops)\n", w+6, "operations")
		for _, f := range fs {
			c := r.ByF[f]
			q := r.Latencies[f]
			fmt.Fprintf(&b, "  %-*s %6d %6d %6d   %s / %s / %s / %s\n", w, f, c.OK, c.Fail, c.Info,
				ms(q.P50), ms(q.P95), ms(q.P99), ms(q.Max))
		}
	}
	fmt.Fprintf(&b, "\nmessages: %d (%.2f per op; %.2f per op between servers), %d dropped by partitions or dead nodes\n",
		r.Net.All.MsgCount, r.MsgsPerOp, r.ServerMsgsPerOp, r.Net.Dropped)
	writeSchedule(&b, faultSchedule(r.History))
	if l := r.Lag; l != nil {
		fmt.Fprintf(&b, "grader scheduling lag: p99 %s, max %s (%d timers of %s)\n", ms(l.P99), ms(l.Max), l.Samples, LagInterval)
	}
	if r.MalformedReplies > 0 {
		fmt.Fprintf(&b, "malformed replies: %d (see the first below; each counts as an unknown outcome)\n", r.MalformedReplies)
		for _, op := range r.History {
			if op.Error != nil && op.Error.Name == "malformed-response" {
				fmt.Fprintf(&b, "  first: %s %s on %s: malformed response: %s\n", ms(op.Time), op.F, op.Node, op.Error.Text)
				break
			}
		}
	}
	if len(r.ProtocolErrors) > 0 {
		fmt.Fprintf(&b, "dropped lines from nodes: %d; the first ones:\n", r.ProtocolErrorCount)
		for _, pe := range r.ProtocolErrors[:min(3, len(r.ProtocolErrors))] {
			fmt.Fprintf(&b, "  %.3fs %s: %s\n    line: %s\n", pe.Time.Seconds(), pe.Node, pe.Message, pe.Line)
		}
	}
	if len(r.LateReplies) > 0 {
		total := 0
		for _, v := range r.LateReplies {
			total += v
		}
		fmt.Fprintf(&b, "late replies to clients that had already timed out: %d (dropped)\n", total)
	}
	if res, ok := r.Result("set-full"); ok {
		if d, ok := res.Details.(checker.SetFullDetails); ok && len(d.StableLatencies) > 0 {
			keys := make([]string, 0, len(d.StableLatencies))
			for k := range d.StableLatencies {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return quantileKey(keys[i]) < quantileKey(keys[j]) })
			b.WriteString("stable latency (ms from acknowledged to visible in every read):")
			for _, k := range keys {
				fmt.Fprintf(&b, " q%s %.0f", k, d.StableLatencies[k])
			}
			b.WriteString("\n")
		}
	}
	if len(r.Results) > 0 {
		b.WriteString("\ncheckers:\n")
		cw := 13
		for _, res := range r.Results {
			cw = max(cw, len(res.Checker))
		}
		for _, res := range r.Results {
			fmt.Fprintf(&b, "  %-*s %-8s %s%s\n", cw, res.Checker, res.Valid, res.Summary, r.lagNote(res.Checker))
		}
		for _, res := range r.Results {
			if v := res.First(); v != nil && res.Valid != checker.Valid {
				fmt.Fprintf(&b, "\nfirst problem (%s): %s\n", res.Checker, describe(v))
				break
			}
		}
	}
	fmt.Fprintf(&b, "\nverdict: %s\n", strings.ToUpper(string(r.Valid)))
	if r.StorePath != "" {
		fmt.Fprintf(&b, "results in %s\n", r.StorePath)
	}
	b.WriteString(r.FinalLine())
	b.WriteString("\n")
	return b.String()
}

func quantileKey(k string) float64 {
	var f float64
	fmt.Sscan(k, &f)
	return f
}

func describe(v *checker.Violation) string {
	var parts []string
	if v.What != "" {
		parts = append(parts, v.What)
	}
	if v.Node != "" {
		parts = append(parts, "node "+v.Node)
	}
	parts = append(parts, fmt.Sprintf("at %.3fs", v.Time.Seconds()))
	if v.Op != nil {
		parts = append(parts, "op "+opString(*v.Op))
	}
	if v.Value != nil {
		parts = append(parts, "value "+jsonString(v.Value))
	}
	s := strings.Join(parts, ", ")
	if v.Detail != "" {
		s += "\n  " + v.Detail
	}
	return s
}

// opString renders an op with its value as JSON, so that pointers inside
// values (lin-kv's KV) read as numbers.
func opString(o history.Op) string { return o.Format(jsonString) }

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}

// FinalLine is Maelstrom's closing line for the verdict.
func (r *Report) FinalLine() string {
	switch r.ExitCode() {
	case 0:
		return "Everything looks good! ヽ(‘ー`)ノ"
	case 1:
		return "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻"
	case 255:
		return "The test crashed before it could be analysed. (╯°□°）╯︵ ┻━┻"
	}
	return "Errors occurred during analysis, but no anomalies found. ಠ~ಠ"
}
