package checker

import (
	"fmt"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// maxViolations caps the violations a checker lists: the first few explain
// the problem, thousands only bloat results.json.
const maxViolations = 20

// EchoDetails is Echo's evidence.
type EchoDetails struct {
	Count      int `json:"count"`
	ErrorCount int `json:"error-count"`
}

// Echo checks that every echo completion returned exactly the invoked
// value. A completion that is not :ok (an error, a timeout, or none at all)
// is a mismatch too: echo has no excuse to fail.
func Echo(h history.History) Result {
	res := Result{Checker: "echo", Valid: Valid}
	var d EchoDetails
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 || p.invoke.F != "echo" {
			continue
		}
		d.Count++
		var why string
		switch {
		case p.completion == nil:
			why = fmt.Sprintf("echo of %q %s invoked at %s never completed", fmt.Sprint(p.invoke.Value), where(p.node(), p.invoke.Process), at(p.invoke.Time))
		case p.completion.Type != history.OK:
			why = fmt.Sprintf("echo of %q %s at %s completed %s (%s) instead of echo_ok", fmt.Sprint(p.invoke.Value), where(p.node(), p.invoke.Process), at(p.completion.Time), p.completion.Type, p.completion.Error.String())
		case !sameEcho(p.invoke.Value, p.completion.Value):
			why = fmt.Sprintf("node %s echoed %#v at %s but the request %s carried %#v; reply with the request's echo field unchanged", p.node(), p.completion.Value, at(p.completion.Time), where("", p.invoke.Process), p.invoke.Value)
		default:
			continue
		}
		d.ErrorCount++
		if len(res.Violations) < maxViolations {
			o := p.observed()
			res.Violations = append(res.Violations, Violation{
				What: "echo mismatch", Node: p.node(), Op: o, Value: o.Value, Time: o.Time, Detail: why,
			})
		}
	}
	res.Details = d
	if d.ErrorCount > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%d of %d echoes did not return the invoked value; first: %s", d.ErrorCount, d.Count, res.Violations[0].Detail)
		return res
	}
	res.Summary = fmt.Sprintf("all %s returned the invoked value", plural(d.Count, "echo", "echoes"))
	return res
}

func sameEcho(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return canonicalJSON(a) == canonicalJSON(b)
}
