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
	// SpoofedLines counts lines dropped because their src was not the
	// node that printed them; FirstSpoofed is the first.
	SpoofedLines int            `json:"spoofed_lines"`
	FirstSpoofed *ProtocolError `json:"first_spoofed,omitempty"`
	// StderrDropped is, per node, how many stderr bytes the log could not
	// keep (see maxLogBytes).
	StderrDropped map[string]int64 `json:"stderr_dropped,omitempty"`
	// Bookkeeping counts operations the checkers do not judge (kafka's
	// client crashes), kept out of ByF.
	Bookkeeping map[string]int `json:"bookkeeping,omitempty"`
	// RequestedRate is --rate; DeliveredRate is what the generator
	// issued during the main phase, in operations per second.
	RequestedRate float64 `json:"requested_rate"`
	DeliveredRate float64 `json:"delivered_rate"`
	// Warnings are things a learner should look at that do not change the
	// verdict: dropped lines, partitions that cut nothing, reads that
	// look like an initial state, ...
	Warnings []string `json:"warnings,omitempty"`
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
		if n.logDropped > 0 {
			if rep.StderrDropped == nil {
				rep.StderrDropped = map[string]int64{}
			}
			rep.StderrDropped[id] = n.logDropped
		}
		n.mu.Unlock()
	}
	r.rec.mu.Lock()
	rep.ProtocolErrors = append([]ProtocolError(nil), r.rec.protocol...)
	rep.ProtocolErrorCount = r.rec.protoCount
	rep.SpoofedLines, rep.FirstSpoofed = r.rec.spoofCount, r.rec.firstSpoof
	rep.Warnings = append(rep.Warnings, r.rec.warnings...)
	if len(r.rec.late) > 0 {
		rep.LateReplies = map[string]int{}
		for k, v := range r.rec.late {
			rep.LateReplies[k] = v
		}
	}
	r.rec.mu.Unlock()

	rep.ByF = map[string]OpCounts{}
	invocations, mainOps := 0, 0
	firstOp := time.Duration(-1)
	for _, op := range h {
		if op.Process < 0 {
			continue
		}
		if op.Type == history.Invoke {
			invocations++
			if !op.Final {
				mainOps++
				if firstOp < 0 {
					firstOp = op.Time
				}
			}
			continue
		}
		if checker.Bookkeeping(op.F) {
			// Not a request a node serves: the stats checker skips it, so
			// the table does too.
			if rep.Bookkeeping == nil {
				rep.Bookkeeping = map[string]int{}
			}
			rep.Bookkeeping[op.F]++
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
	rep.RequestedRate = r.opts.Rate
	if window := r.opts.TimeLimit; mainOps > 0 {
		if rep.Crash != nil && firstOp >= 0 {
			window = min(window, rep.Crash.Time-firstOp)
		}
		if window > 0 {
			rep.DeliveredRate = float64(mainOps) / window.Seconds()
		}
	}
	defer rep.collectWarnings()

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
		protocolResult(rep, r.opts.StrictProtocol),
		{Checker: "net", Valid: checker.Valid, Details: rep.Net,
			Summary: fmt.Sprintf("%d messages, %.2f per op (%.2f between servers)", rep.Net.All.MsgCount, rep.MsgsPerOp, rep.ServerMsgsPerOp)},
	}
	if x, ok := r.inst.(workload.ExtraChecker); ok {
		rep.Results = append(rep.Results, x.ExtraChecks(h)...)
	}
	if len(r.opts.Exercise) > 0 {
		rep.Results = append(rep.Results, exerciseResult(rep.Faults, r.opts.Exercise))
	}
	rep.Valid = checker.Valid
	for _, res := range rep.Results {
		rep.Valid = checker.Worst(rep.Valid, res.Valid)
	}
}

// protocolResult judges what nodes printed. As in Maelstrom, which logs
// and drops such lines, a dropped line is reported, not judged, unless
// strict (--strict-protocol: the stages that teach the protocol), where
// any dropped line makes the run invalid.
func protocolResult(rep *Report, strict bool) checker.Result {
	res := checker.Result{Checker: "protocol", Valid: checker.Valid, Summary: "every line nodes printed was a valid message"}
	dropped := rep.ProtocolErrorCount + rep.SpoofedLines
	if dropped == 0 {
		return res
	}
	if rep.FirstSpoofed != nil {
		pe := rep.FirstSpoofed
		res.Violations = append(res.Violations, checker.Violation{
			What: "message not from its node", Node: pe.Node, Value: pe.Line, Time: pe.Time,
			Detail: fmt.Sprintf("at %.3fs: %s. The line was: %s", pe.Time.Seconds(), pe.Message, pe.Line),
		})
	}
	for _, pe := range rep.ProtocolErrors {
		res.Violations = append(res.Violations, checker.Violation{
			What: "bad message line", Node: pe.Node, Value: pe.Line, Time: pe.Time,
			Detail: fmt.Sprintf("at %.3fs: %s. The line was: %s", pe.Time.Seconds(), pe.Message, pe.Line),
		})
	}
	res.Summary = fmt.Sprintf("%d line(s) printed by nodes were dropped", dropped)
	if rep.SpoofedLines > 0 {
		res.Summary += fmt.Sprintf(" (%d with a src that was not the node)", rep.SpoofedLines)
	}
	if strict {
		res.Valid = checker.Invalid
		return res
	}
	res.Summary += "; reported, not judged (--strict-protocol fails the run for them)"
	res.Warnings = []string{fmt.Sprintf("nodes printed %d line(s) that were not valid messages from them and were dropped, as Maelstrom drops them; first: %s",
		dropped, res.Violations[0].Detail)}
	return res
}

// collectWarnings gathers the checkers' warnings and the run's own.
func (r *Report) collectWarnings() {
	for _, res := range r.Results {
		for _, w := range res.Warnings {
			r.Warnings = append(r.Warnings, res.Checker+": "+w)
		}
	}
	if w := partitionWarning(r.Faults, r.Options.NodeCount); w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	ids := make([]string, 0, len(r.StderrDropped))
	for id := range r.StderrDropped {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r.Warnings = append(r.Warnings, fmt.Sprintf("node %s wrote more to stderr than the grader keeps: its log has the first %d MiB, %.1f MiB more were dropped (log less)",
			id, maxLogBytes>>20, float64(r.StderrDropped[id])/(1<<20)))
	}
}

// partitionWarning says when every partition of a run cut nothing, so
// that no partition was tested at all.
func partitionWarning(steps []FaultStep, nodes int) string {
	starts, empty := 0, 0
	for _, s := range steps {
		if s.F != "start-partition" {
			continue
		}
		starts++
		if !tookEffect(s.Value) {
			empty++
		}
	}
	if starts == 0 || empty < starts {
		return ""
	}
	return fmt.Sprintf("every partition of this run (%d) had no effect: none cut any node off (with %d node(s) there may be nothing to cut), so this run tested no partition", starts, nodes)
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
	if len(r.Bookkeeping) > 0 {
		keys := make([]string, 0, len(r.Bookkeeping))
		for k := range r.Bookkeeping {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("not judged (the client's own bookkeeping, as in Maelstrom):")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s ×%d", k, r.Bookkeeping[k])
		}
		b.WriteString("\n")
	}
	if r.RequestedRate > 0 && (r.DeliveredRate > 0 || r.Crash == nil) {
		fmt.Fprintf(&b, "rate: requested %g ops/s, delivered %.1f ops/s\n", r.RequestedRate, r.DeliveredRate)
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
	if r.SpoofedLines > 0 {
		fmt.Fprintf(&b, "lines dropped because their src was not the node that printed them: %d; the first:\n  %.3fs %s: %s\n    line: %s\n",
			r.SpoofedLines, r.FirstSpoofed.Time.Seconds(), r.FirstSpoofed.Node, r.FirstSpoofed.Message, r.FirstSpoofed.Line)
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
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\nWARNINGS (they do not change the verdict, but read them):\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "  ! %s\n", w)
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
