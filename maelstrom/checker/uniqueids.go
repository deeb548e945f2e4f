package checker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// maxDuplicatedExamples matches Jepsen's unique-ids checker, which lists
// at most 48 duplicated ids.
const maxDuplicatedExamples = 48

// UniqueIDsDetails is UniqueIDs' evidence, with Jepsen's field names.
type UniqueIDsDetails struct {
	AttemptedCount    int            `json:"attempted-count"`
	AcknowledgedCount int            `json:"acknowledged-count"`
	DuplicatedCount   int            `json:"duplicated-count"`
	Duplicated        map[string]int `json:"duplicated,omitempty"` // canonical id -> times seen
	Range             []any          `json:"range,omitempty"`      // [min max]; absent when ids are of mixed types
	RangeNote         string         `json:"range-note,omitempty"`
}

// UniqueIDs checks that no id was acknowledged twice. Ids are compared by
// their canonical JSON, so 1, 1.0 and 1e0 are the same id while "1" is not.
func UniqueIDs(h history.History) Result {
	res := Result{Checker: "unique-ids", Valid: Valid}
	d := UniqueIDsDetails{Duplicated: map[string]int{}}
	type seen struct {
		p     op
		count int
	}
	first := map[string]*seen{}
	var order []string // duplicated ids in the order their second copy appeared
	var lo, hi *orderable
	mixed := false
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 || p.invoke.F != "generate" {
			continue
		}
		d.AttemptedCount++
		if p.outcome() != history.OK {
			continue
		}
		d.AcknowledgedCount++
		id := p.completion.Value
		key := canonicalJSON(id)
		s, dup := first[key]
		if !dup {
			first[key] = &seen{p: p, count: 1}
		} else {
			s.count++
			if s.count == 2 {
				order = append(order, key)
				if len(res.Violations) < maxViolations {
					res.Violations = append(res.Violations, Violation{
						What: "duplicate id", Node: p.node(), Op: p.completion, Value: id, Time: p.completion.Time,
						Detail: fmt.Sprintf("generate returned id %s on %s at %s and again on %s at %s; ids must never repeat, even across nodes",
							key, nodeName(s.p.node()), at(s.p.completion.Time), nodeName(p.node()), at(p.completion.Time)),
					})
				}
			}
		}
		if mixed {
			continue
		}
		o, err := toOrderable(id)
		if err != nil || (lo != nil && lo.kind != o.kind) {
			mixed = true
			continue
		}
		if lo == nil || o.less(*lo) {
			lo = &o
		}
		if hi == nil || hi.less(o) {
			hi = &o
		}
	}
	d.DuplicatedCount = len(order)
	for _, k := range order[:min(len(order), maxDuplicatedExamples)] {
		d.Duplicated[k] = first[k].count
	}
	switch {
	case mixed:
		d.RangeNote = "ids are not mutually comparable (mixed types or non-scalar ids), so no range is given"
	case lo != nil:
		d.Range = []any{lo.raw, hi.raw}
	}
	res.Details = d
	if d.DuplicatedCount > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%d of %d acknowledged ids were duplicated; first: %s", d.DuplicatedCount, d.AcknowledgedCount, res.Violations[0].Detail)
		return res
	}
	res.Summary = fmt.Sprintf("%d acknowledged ids (of %d attempted), all distinct", d.AcknowledgedCount, d.AttemptedCount)
	return res
}

// PerNodeIncreasing checks, for id strategies that promise time order,
// that the ids acknowledged through each node strictly increase in
// completion order. Numbers compare numerically, strings lexicographically;
// any other id, or a node mixing numbers and strings, is a violation
// because the promise cannot hold.
func PerNodeIncreasing(h history.History) Result {
	res := Result{Checker: "per-node-increasing", Valid: Valid}
	ops := pairUp(h)
	// Completion order, not invocation order: an id is fixed when the node
	// answers.
	done := make([]op, 0, len(ops))
	for _, p := range ops {
		if p.invoke.Process >= 0 && p.invoke.F == "generate" && p.outcome() == history.OK {
			done = append(done, p)
		}
	}
	sortByCompletion(done)
	type last struct {
		p op
		o orderable
	}
	prev := map[string]last{}
	bad := 0
	checked := 0
	for _, p := range done {
		id := p.completion.Value
		node := p.node()
		o, err := toOrderable(id)
		var why, what string
		if err != nil {
			what, why = "unorderable id", fmt.Sprintf("generate on %s returned id %s at %s: %v", nodeName(node), canonicalJSON(id), at(p.completion.Time), err)
		} else if l, ok := prev[node]; ok {
			switch {
			case l.o.kind != o.kind:
				what, why = "mixed id types", fmt.Sprintf("generate on %s returned %s id %s at %s after %s id %s at %s; numbers and strings cannot be ordered against each other",
					nodeName(node), o.kind, canonicalJSON(id), at(p.completion.Time), l.o.kind, canonicalJSON(l.p.completion.Value), at(l.p.completion.Time))
			case !l.o.less(o):
				what, why = "id not increasing", fmt.Sprintf("generate on %s returned id %s at %s, not greater than id %s it returned at %s; ids from one node must strictly increase",
					nodeName(node), canonicalJSON(id), at(p.completion.Time), canonicalJSON(l.p.completion.Value), at(l.p.completion.Time))
			}
		}
		checked++
		if what != "" {
			bad++
			if len(res.Violations) < maxViolations {
				res.Violations = append(res.Violations, Violation{What: what, Node: node, Op: p.completion, Value: id, Time: p.completion.Time, Detail: why})
			}
		}
		if err == nil {
			prev[node] = last{p: p, o: o}
		}
	}
	res.Details = map[string]int{"checked-count": checked, "error-count": bad}
	if bad > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%d of %d ids broke per-node order; first: %s", bad, checked, res.Violations[0].Detail)
		return res
	}
	res.Summary = fmt.Sprintf("ids strictly increase per node across %d acknowledged ids", checked)
	return res
}

func nodeName(n string) string {
	if n == "" {
		return "an unknown node"
	}
	return n
}

// orderable is an id reduced to something with a total order.
type orderable struct {
	kind string // "number" or "string"
	num  *big.Rat
	str  string
	raw  any
}

func (a orderable) less(b orderable) bool {
	if a.kind == "number" {
		return a.num.Cmp(b.num) < 0
	}
	return a.str < b.str
}

func toOrderable(v any) (orderable, error) {
	switch x := v.(type) {
	case string:
		return orderable{kind: "string", str: x, raw: x}, nil
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return orderable{}, fmt.Errorf("%q is not a number", string(x))
		}
		return orderable{kind: "number", num: r, raw: x}, nil
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return orderable{}, fmt.Errorf("%v is not a finite number", x)
		}
		return orderable{kind: "number", num: r, raw: x}, nil
	}
	if n, ok := asInt64(v); ok {
		return orderable{kind: "number", num: new(big.Rat).SetInt64(n), raw: v}, nil
	}
	return orderable{}, fmt.Errorf("an id of type %T has no order; return a number or a string", v)
}

// canonicalJSON renders a value so that equal JSON values render equally:
// numbers are normalised (1, 1.0 and 1e0 agree) and object keys sorted.
func canonicalJSON(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case json.Number:
		b.WriteString(canonicalNumber(string(x)))
		return
	case float64:
		b.WriteString(canonicalNumber(fmt.Sprint(x)))
		return
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
		return
	}
	// Everything else (strings, bools, nil, maps with sorted keys, typed
	// values of hand-built histories) encoding/json already renders
	// deterministically; re-decode so nested numbers get normalised too.
	raw, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(b, "%#v", v)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		b.Write(raw)
		return
	}
	switch g := generic.(type) {
	case map[string]any:
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sortStrings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			writeCanonical(b, g[k])
		}
		b.WriteByte('}')
	case []any, json.Number:
		writeCanonical(b, g)
	default:
		b.Write(raw)
	}
}

func canonicalNumber(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.RatString()
}
