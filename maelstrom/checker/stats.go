package checker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// StatsCounts counts completions of one kind of operation.
type StatsCounts struct {
	Count     int `json:"count"`
	OKCount   int `json:"ok-count"`
	FailCount int `json:"fail-count"`
	InfoCount int `json:"info-count"` // includes ops the run never completed
}

// StatsDetails is Stats' evidence, shaped like Maelstrom's :stats.
type StatsDetails struct {
	StatsCounts
	ByF map[string]StatsCounts `json:"by-f"`
}

// Bookkeeping says whether operations named f are the client's own
// bookkeeping rather than requests a node must serve (kafka's crash):
// Maelstrom's stats checker ignores them too.
func Bookkeeping(f string) bool { return f == "crash" || f == "debug-topic-partitions" }

// clientOps are the ops issued by clients (not the nemesis, not
// bookkeeping).
func clientOps(h history.History) []op {
	var out []op
	for _, p := range pairUp(h) {
		if p.invoke.Process >= 0 && !Bookkeeping(p.invoke.F) {
			out = append(out, p)
		}
	}
	return out
}

// Stats counts outcomes per kind of operation. It is invalid when some kind
// of operation never succeeded, as in Maelstrom, where a node that fails
// every cas cannot pass by never changing anything.
func Stats(h history.History) Result {
	res := Result{Checker: "stats", Valid: Valid}
	d := StatsDetails{ByF: map[string]StatsCounts{}}
	firstFailure := map[string]op{}
	for _, p := range clientOps(h) {
		c := d.ByF[p.invoke.F]
		c.Count++
		d.Count++
		switch p.outcome() {
		case history.OK:
			c.OKCount++
			d.OKCount++
		case history.Fail:
			c.FailCount++
			d.FailCount++
		default:
			c.InfoCount++
			d.InfoCount++
		}
		if _, ok := firstFailure[p.invoke.F]; !ok && p.outcome() != history.OK {
			firstFailure[p.invoke.F] = p
		}
		d.ByF[p.invoke.F] = c
	}
	res.Details = d
	fs := make([]string, 0, len(d.ByF))
	for f := range d.ByF {
		fs = append(fs, f)
	}
	slices.Sort(fs)
	var never []string
	for _, f := range fs {
		c := d.ByF[f]
		if c.OKCount > 0 {
			continue
		}
		never = append(never, f)
		p := firstFailure[f]
		o := p.observed()
		res.Violations = append(res.Violations, Violation{
			What: "never succeeded", Node: p.node(), Op: o, Value: o.Value, Time: o.Time,
			Detail: fmt.Sprintf("no %q operation succeeded (%d failed, %d unknown); the first was %s, invoked at %s, and ended %s at %s%s. Maelstrom requires every kind of operation to succeed at least once",
				f, c.FailCount, c.InfoCount, where(p.node(), p.invoke.Process), at(p.invoke.Time), p.outcome(), at(o.Time), errorSuffix(o)),
		})
	}
	if len(never) > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s never succeeded: %s", strings.Join(never, ", "), res.Violations[0].Detail)
		return res
	}
	res.Summary = fmt.Sprintf("%d ops: %d ok, %d fail, %d info", d.Count, d.OKCount, d.FailCount, d.InfoCount)
	return res
}

func errorSuffix(o *history.Op) string {
	if o.Error == nil {
		return ""
	}
	return " (" + o.Error.String() + ")"
}

// Latencies summarises, per kind of operation, the latency of ops that
// completed :ok.
func Latencies(h history.History) map[string]Quantiles {
	by := map[string][]time.Duration{}
	for _, p := range clientOps(h) {
		if p.outcome() == history.OK {
			by[p.invoke.F] = append(by[p.invoke.F], p.completion.Time-p.invoke.Time)
		}
	}
	out := make(map[string]Quantiles, len(by))
	for f, ds := range by {
		out[f] = quantilesOf(ds)
	}
	return out
}
