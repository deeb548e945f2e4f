package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// maxCounterRanges bounds the acceptable set. Maelstrom's deltas are small,
// so ranges merge quickly; a history with huge, sparse deltas could
// otherwise double the set with every uncertain add.
const maxCounterRanges = 4096

// CounterDetails is Counter's evidence, with Maelstrom's field names.
type CounterDetails struct {
	FinalReads []int64    `json:"final-reads"`
	Acceptable [][2]int64 `json:"acceptable"` // inclusive [lo hi] ranges
	OKAdds     int        `json:"ok-add-count"`
	MaybeAdds  int        `json:"maybe-add-count"` // :info, :fail or never completed
}

// Counter checks g-counter and pn-counter: every successful final read
// must be a sum the adds could have produced. Acknowledged adds definitely
// happened; any other add may have (Maelstrom's counter clients turn even
// definite errors into :info), so each one doubles the acceptable set into
// A ∪ (A + delta).
//
// Reads during the main phase are not judged: counters only promise to
// converge once the network heals.
func Counter(h history.History) Result {
	res := Result{Checker: "counter", Valid: Valid}
	var d CounterDetails
	var sum int64
	var maybe []int64
	var finals []op
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 {
			continue
		}
		switch p.invoke.F {
		case "add":
			delta, ok := asInt64(p.invoke.Value)
			if !ok {
				continue
			}
			if p.outcome() == history.OK {
				d.OKAdds++
				sum += delta
			} else {
				d.MaybeAdds++
				maybe = append(maybe, delta)
			}
		case "read":
			if p.final() && p.outcome() == history.OK {
				finals = append(finals, p)
			}
		}
	}
	acc := ranges{{sum, sum}}
	for _, delta := range maybe {
		acc = acc.orShifted(delta)
		if len(acc) > maxCounterRanges {
			res.Valid = Unknown
			res.Summary = fmt.Sprintf("the %d uncertain adds spread the acceptable sums over more than %d ranges; too many to judge", len(maybe), maxCounterRanges)
			res.Details = d
			return res
		}
	}
	d.Acceptable = acc
	sortByCompletion(finals)
	bad := 0
	for _, p := range finals {
		v, ok := asInt64(p.completion.Value)
		if ok {
			d.FinalReads = append(d.FinalReads, v)
		}
		if ok && acc.contains(v) {
			continue
		}
		bad++
		if len(res.Violations) >= maxViolations {
			continue
		}
		why := fmt.Sprintf("final read %s at %s returned %v, but the adds allow only %s (%d acknowledged adds summing to %d, %d uncertain)",
			where(p.node(), p.invoke.Process), at(p.completion.Time), p.completion.Value, acc, d.OKAdds, sum, d.MaybeAdds)
		if !ok {
			why = fmt.Sprintf("final read %s at %s returned %#v, which is not an integer", where(p.node(), p.invoke.Process), at(p.completion.Time), p.completion.Value)
		}
		res.Violations = append(res.Violations, Violation{
			What: "unacceptable read", Node: p.node(), Op: p.completion, Value: p.completion.Value, Time: p.completion.Time, Detail: why,
		})
	}
	res.Details = d
	switch {
	case bad > 0:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%d of %d final reads are outside the acceptable sums; first: %s", bad, len(finals), res.Violations[0].Detail)
	case len(finals) == 0:
		// Maelstrom calls this vacuously valid; with no converged read
		// there is nothing to stand on.
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("no final read succeeded, so convergence cannot be judged (acceptable sums %s)", acc)
	default:
		res.Summary = fmt.Sprintf("all %d final reads fall in the acceptable sums %s", len(finals), acc)
	}
	return res
}

// ranges is a sorted list of disjoint, non-adjacent inclusive intervals.
type ranges [][2]int64

func (r ranges) contains(v int64) bool {
	i, _ := slices.BinarySearchFunc(r, v, func(iv [2]int64, v int64) int {
		switch {
		case iv[1] < v:
			return -1
		case iv[0] > v:
			return 1
		}
		return 0
	})
	return i < len(r) && r[i][0] <= v && v <= r[i][1]
}

// orShifted returns r ∪ (r + delta).
func (r ranges) orShifted(delta int64) ranges {
	if delta == 0 {
		return r
	}
	all := make(ranges, 0, 2*len(r))
	for _, iv := range r {
		all = append(all, iv, [2]int64{iv[0] + delta, iv[1] + delta})
	}
	slices.SortFunc(all, func(a, b [2]int64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	out := all[:1]
	for _, iv := range all[1:] {
		last := &out[len(out)-1]
		if iv[0] <= last[1]+1 {
			last[1] = max(last[1], iv[1])
			continue
		}
		out = append(out, iv)
	}
	return out
}

func (r ranges) String() string {
	parts := make([]string, len(r))
	for i, iv := range r {
		if iv[0] == iv[1] {
			parts[i] = fmt.Sprint(iv[0])
		} else {
			parts[i] = fmt.Sprintf("%d..%d", iv[0], iv[1])
		}
	}
	if len(parts) > 6 {
		parts = append(parts[:3], "…", parts[len(parts)-1])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
