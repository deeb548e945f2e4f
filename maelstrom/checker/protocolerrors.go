package checker

import (
	"fmt"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The errors workload's operations (history values in parentheses):
//
//	echo               a plain echo (invoke: string; ok: what came back)
//	unknown-type       a request of a type no node implements (invoke: the
//	                   type; ok: {"code","text"} for an error reply, else
//	                   {"reply": the reply body's JSON}; info: no reply)
//	malformed-request  an echo without its echo field (invoke: the body's
//	                   JSON; outcomes as for unknown-type)
//	bad-line           a malformed line written straight to the node's
//	                   stdin, then an echo (invoke: {"line","echo"}; ok:
//	                   {"line","echo"} with what the echo came back as)
const (
	ErrorsEcho      = "echo"
	ErrorsUnknown   = "unknown-type"
	ErrorsMalformed = "malformed-request"
	ErrorsBadLine   = "bad-line"
)

// NodeCrash is a node that died during an errors run.
type NodeCrash struct {
	Node       string
	Time       time.Duration
	ExitStatus string
	Stderr     []string
}

// ProtocolErrorsDetails counts what the errors workload tried and how
// nodes answered.
type ProtocolErrorsDetails struct {
	Echo      int `json:"echo"`
	Unknown   int `json:"unknown_type"`
	Malformed int `json:"malformed_request"`
	BadLines  int `json:"bad_line"`
	// MalformedOtherCode counts malformed requests refused with an error
	// code other than 12: accepted, but 12 says it best.
	MalformedOtherCode int `json:"malformed_other_code"`
	Problems           int `json:"problems"`
}

// ProtocolErrors judges the errors workload: a node must answer a request
// of unknown type with error 10 (not-supported), refuse a request missing
// a required field with an error (12, malformed-request, is the right
// code; others are accepted and counted), skip malformed input lines and
// keep answering echo, and never crash. crash, if not nil, is a node that
// died during the run: that alone is invalid, and the violation names the
// input it was handling.
func ProtocolErrors(h history.History, crash *NodeCrash) Result {
	res := Result{Checker: "protocol-errors", Valid: Valid}
	var d ProtocolErrorsDetails
	add := func(what, node string, o *history.Op, t time.Duration, detail string) {
		d.Problems++
		if len(res.Violations) < maxViolations {
			res.Violations = append(res.Violations, Violation{What: what, Node: node, Op: o, Value: o.Value, Time: t, Detail: detail})
		}
	}
	pairs := pairUp(h)
	if crash != nil {
		add("crash", crash.Node, crashCause(pairs, crash), crash.Time, crashDetail(pairs, crash))
	}
	for _, p := range pairs {
		if p.invoke.Process < 0 {
			continue
		}
		node, inv, comp := p.node(), p.invoke, p.completion
		if crash != nil && node == crash.Node && (comp == nil || comp.Time >= crash.Time) {
			continue // the crash is the story
		}
		sent := describeRequest(inv)
		switch inv.F {
		case ErrorsEcho:
			d.Echo++
			switch {
			case comp == nil || comp.Type != history.OK:
				add("echo failed", node, p.observed(), p.observed().Time, fmt.Sprintf("node %s did not answer %s invoked at %s: %s", node, sent, at(inv.Time), outcomeText(comp)))
			case !sameEcho(inv.Value, comp.Value):
				add("echo mismatch", node, comp, comp.Time, fmt.Sprintf("node %s answered %s with %s at %s", node, sent, canonicalJSON(comp.Value), at(comp.Time)))
			}
		case ErrorsUnknown:
			d.Unknown++
			code, isErr := errorCode(comp)
			switch {
			case isErr && code == 10:
			case isErr:
				add("wrong error code", node, comp, comp.Time, fmt.Sprintf("node %s answered %s at %s with error %d (%s); a type you do not implement is error 10 (not-supported), which tells the client, definitely, that nothing happened", node, sent, at(comp.Time), code, errorName(code)))
			case comp != nil && comp.Type == history.OK:
				add("unknown type answered as a success", node, comp, comp.Time, fmt.Sprintf("node %s answered %s at %s with %s, which is not an error; answer with {\"type\":\"error\",\"code\":10}", node, sent, at(comp.Time), replyText(comp)))
			default:
				add("unknown type not answered", node, p.observed(), p.observed().Time, fmt.Sprintf("node %s did not answer %s invoked at %s: %s; answer it with error 10 (not-supported) and keep serving", node, sent, at(inv.Time), outcomeText(comp)))
			}
		case ErrorsMalformed:
			d.Malformed++
			code, isErr := errorCode(comp)
			switch {
			case isErr:
				if code != 12 {
					d.MalformedOtherCode++
				}
			case comp != nil && comp.Type == history.OK:
				add("malformed request accepted", node, comp, comp.Time, fmt.Sprintf("node %s answered %s at %s with %s; a request missing a required field must be refused, with error 12 (malformed-request)", node, sent, at(comp.Time), replyText(comp)))
			default:
				add("malformed request not answered", node, p.observed(), p.observed().Time, fmt.Sprintf("node %s did not answer %s invoked at %s: %s; refuse it with error 12 (malformed-request) and keep serving", node, sent, at(inv.Time), outcomeText(comp)))
			}
		case ErrorsBadLine:
			d.BadLines++
			want, _ := inv.Value.(map[string]any)
			switch {
			case comp == nil || comp.Type != history.OK:
				add("stopped serving after a bad line", node, p.observed(), p.observed().Time, fmt.Sprintf("after %s at %s, node %s did not answer the next echo: %s; log lines you cannot parse to stderr, skip them and keep serving", sent, at(inv.Time), node, outcomeText(comp)))
			default:
				got, _ := comp.Value.(map[string]any)
				if !sameEcho(want["echo"], got["echo"]) {
					add("echo mismatch after a bad line", node, comp, comp.Time, fmt.Sprintf("after %s, node %s echoed %s instead of %s", sent, node, canonicalJSON(got["echo"]), canonicalJSON(want["echo"])))
				}
			}
		}
	}
	res.Details = d
	if d.Problems > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s; first: %s", plural(d.Problems, "problem", "problems"), res.Violations[0].Detail)
		return res
	}
	if d.Unknown+d.Malformed+d.BadLines == 0 {
		// Nothing tested: no evidence either way.
		res.Valid = Unknown
		res.Summary = "no unknown type, malformed request or bad line was tried (run longer or at a higher rate)"
		return res
	}
	res.Summary = fmt.Sprintf("%d unknown types answered with error 10, %d malformed requests refused (%d not with code 12), %d bad lines survived, %d echoes",
		d.Unknown, d.Malformed, d.MalformedOtherCode, d.BadLines, d.Echo)
	return res
}

// errorCode reports the code of an error reply: an :ok completion whose
// value is {"code","text"}.
func errorCode(comp *history.Op) (int, bool) {
	if comp == nil || comp.Type != history.OK {
		return 0, false
	}
	v, _ := comp.Value.(map[string]any)
	switch c := v["code"].(type) {
	case int:
		return c, true
	case int64:
		return int(c), true
	case float64: // after a JSON round trip
		return int(c), true
	}
	return 0, false
}

// replyText renders a non-error reply recorded as {"reply": json}.
func replyText(comp *history.Op) string {
	v, _ := comp.Value.(map[string]any)
	if r, ok := v["reply"].(string); ok {
		return r
	}
	return canonicalJSON(comp.Value)
}

func outcomeText(comp *history.Op) string {
	switch {
	case comp == nil:
		return "the run ended before a reply"
	case comp.Error != nil:
		return comp.Error.String()
	}
	return string(comp.Type)
}

// describeRequest says in words what an invocation sent.
func describeRequest(inv history.Op) string {
	switch inv.F {
	case ErrorsUnknown:
		return fmt.Sprintf("a request of unknown type %q", fmt.Sprint(inv.Value))
	case ErrorsMalformed:
		return fmt.Sprintf("a request missing a required field, %v", inv.Value)
	case ErrorsBadLine:
		v, _ := inv.Value.(map[string]any)
		return fmt.Sprintf("the malformed line %q on its stdin", fmt.Sprint(v["line"]))
	}
	return fmt.Sprintf("an echo of %s", canonicalJSON(inv.Value))
}

// crashCause is the last request sent to the crashed node that had not
// been answered when it died: most likely what killed it.
func crashCause(pairs []op, c *NodeCrash) *history.Op {
	var cause *history.Op
	for _, p := range pairs {
		if p.invoke.Process < 0 || p.node() != c.Node || p.invoke.Time > c.Time {
			continue
		}
		if p.completion == nil || p.completion.Type == history.Info || p.completion.Time >= c.Time {
			o := p.invoke
			cause = &o
		}
	}
	if cause == nil {
		cause = &history.Op{Node: c.Node, Time: c.Time}
	}
	return cause
}

func crashDetail(pairs []op, c *NodeCrash) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s crashed at %s", c.Node, at(c.Time))
	if c.ExitStatus != "" {
		fmt.Fprintf(&b, " (%s)", c.ExitStatus)
	}
	if cause := crashCause(pairs, c); cause.F != "" {
		fmt.Fprintf(&b, " while handling %s, sent at %s", describeRequest(*cause), at(cause.Time))
	}
	b.WriteString("; bad input must never stop a node: answer unknown types with error 10, refuse malformed requests with error 12, log and skip lines you cannot parse")
	if n := len(c.Stderr); n > 0 {
		fmt.Fprintf(&b, ". Last line on stderr: %s", c.Stderr[n-1])
	}
	return b.String()
}

// errorName names Maelstrom's error codes for messages.
func errorName(code int) string {
	if n, ok := history.ErrorName(code); ok {
		return n
	}
	return "unknown code"
}
