package checker

import (
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// NetRPCRun is the history value of a completed net-rpc check operation:
// one run of the net-rpc check (package netrpc) against one node.
type NetRPCRun struct {
	Addr      string        `json:"addr"`
	Valid     bool          `json:"valid"`
	Violation string        `json:"violation,omitempty"`
	At        time.Duration `json:"at"`     // when the violation was seen, since the check began
	Report    string        `json:"report"` // the check's full report
}

// NetRPC judges the net-rpc workload: every check run against every node
// must be valid. A check that could not complete (the run ended first) is
// no evidence; with no completed check at all the verdict is unknown.
func NetRPC(h history.History) Result {
	res := Result{Checker: "net-rpc", Valid: Valid}
	checks, bad := 0, 0
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 || p.invoke.F != "check" || p.completion == nil || p.completion.Type != history.OK {
			continue
		}
		run, ok := p.completion.Value.(NetRPCRun)
		if !ok {
			continue
		}
		checks++
		if run.Valid {
			continue
		}
		bad++
		if len(res.Violations) < maxViolations {
			t := p.invoke.Time + run.At
			res.Violations = append(res.Violations, Violation{
				What: "net-rpc violation", Node: p.node(), Op: p.completion, Value: run.Addr, Time: t,
				Detail: fmt.Sprintf("node %s, serving on %s, at %s: %s", p.node(), run.Addr, at(t), run.Violation),
			})
		}
	}
	switch {
	case bad > 0:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%d of %d checks found a problem; first: %s", bad, checks, res.Violations[0].Detail)
	case checks == 0:
		res.Valid = Unknown
		res.Summary = "no net-rpc check completed, so nothing was judged (raise --time-limit or --rate)"
	default:
		res.Summary = fmt.Sprintf("%s valid: every well-formed call answered, abuse refused, the server kept serving", plural(checks, "check", "checks"))
	}
	return res
}
