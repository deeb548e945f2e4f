package checker

import (
	"fmt"
	"sort"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// LogAppend is the value of an append op of the log workload: the value
// appended and, once acknowledged, its position in the log (from 1).
type LogAppend struct {
	Value int64  `json:"value"`
	Index *int64 `json:"index,omitempty"`
}

// LogDetails are the log checker's findings.
type LogDetails struct {
	Acknowledged int `json:"acknowledged"`
	Failed       int `json:"failed"`
	Unknown      int `json:"unknown"`
	// UnknownApplied counts appends of unknown outcome found in the log.
	UnknownApplied int            `json:"unknown_applied"`
	Reads          int            `json:"reads"`
	FinalLength    int            `json:"final_length"`
	FinalLengths   map[string]int `json:"final_lengths"` // node -> length of its final read
}

type logRead struct {
	node  string
	at    time.Duration
	final bool
	log   []int64
	op    history.Op
}

// RaftLog judges a history of the log workload: every read_log result
// (each node's applied log) is a prefix of one log; no value appears twice
// or without having been appended, and none whose append definitely
// failed; every acknowledged append is in the final log exactly once, at
// the index it was acknowledged with; and the final log is at least as
// long as any log read earlier (applied entries are never lost, across
// kills included). Without a successful final read the verdict is unknown.
func RaftLog(h history.History) Result {
	res := Result{Checker: "raftlog", Valid: Valid}
	d := LogDetails{FinalLengths: map[string]int{}}
	var vs []Violation
	add := func(v Violation) {
		if len(vs) < 20 {
			vs = append(vs, v)
		}
	}
	type appendOp struct {
		v    LogAppend
		op   history.Op
		kind history.Type
	}
	appends := map[int64]appendOp{}
	var reads []logRead
	for _, p := range pairUp(h) {
		switch p.invoke.F {
		case "append":
			v, ok := p.invoke.Value.(LogAppend)
			if !ok {
				res.Valid, res.Summary = Unknown, fmt.Sprintf("append op %s has a value of type %T, not a log append", p.invoke, p.invoke.Value)
				return res
			}
			a := appendOp{v: v, op: *p.observed(), kind: p.outcome()}
			if c := p.completion; c != nil && c.Type == history.OK {
				if cv, ok := c.Value.(LogAppend); ok {
					a.v = cv
				}
			}
			appends[v.Value] = a
			switch a.kind {
			case history.OK:
				d.Acknowledged++
			case history.Fail:
				d.Failed++
			default:
				d.Unknown++
			}
		case "read_log":
			if p.outcome() != history.OK {
				continue
			}
			l, ok := p.completion.Value.([]int64)
			if !ok {
				res.Valid, res.Summary = Unknown, fmt.Sprintf("read_log op %s has a value of type %T, not []int64", p.completion, p.completion.Value)
				return res
			}
			reads = append(reads, logRead{node: p.node(), at: p.completion.Time, final: p.final(), log: l, op: *p.completion})
		}
	}
	d.Reads = len(reads)

	// The reference: the longest log read; every read must be its prefix.
	var ref, final *logRead
	for i := range reads {
		r := &reads[i]
		if ref == nil || len(r.log) > len(ref.log) {
			ref = r
		}
		if r.final {
			d.FinalLengths[r.node] = max(d.FinalLengths[r.node], len(r.log))
			if final == nil || len(r.log) > len(final.log) {
				final = r
			}
		}
	}
	for i := range reads {
		r := &reads[i]
		for j, v := range r.log {
			if ref.log[j] != v {
				op := r.op
				add(Violation{What: "logs diverge", Node: r.node, Op: &op, Value: v, Time: r.at,
					Detail: fmt.Sprintf("%s's applied log has %d at index %d, but %s's (read at %s) has %d there: two nodes applied different entries at one index, so committed entries were overwritten.",
						r.node, v, j+1, ref.node, at(ref.at), ref.log[j])})
				break
			}
		}
		seen := map[int64]int{}
		for j, v := range r.log {
			if first, dup := seen[v]; dup {
				op := r.op
				add(Violation{What: "duplicate value", Node: r.node, Op: &op, Value: v, Time: r.at,
					Detail: fmt.Sprintf("%d is in %s's log twice, at indexes %d and %d: a retried append was applied again (de-duplicate with the client id and request number).", v, r.node, first+1, j+1)})
				break
			}
			seen[v] = j
			a, known := appends[v]
			switch {
			case !known:
				op := r.op
				add(Violation{What: "value never appended", Node: r.node, Op: &op, Value: v, Time: r.at,
					Detail: fmt.Sprintf("%s's log has %d at index %d, but no client ever appended it.", r.node, v, j+1)})
			case a.kind == history.Fail:
				op := a.op
				add(Violation{What: "failed append applied", Node: r.node, Op: &op, Value: v, Time: r.at,
					Detail: fmt.Sprintf("the append of %d failed definitely (%s) but %s's log has it at index %d: a definite error promises the operation did not happen; answer a timeout (code 0) when it might.", v, a.op.Error, r.node, j+1)})
			}
		}
	}

	if final == nil {
		res.Details, res.Violations = d, vs
		if len(vs) > 0 {
			res.Valid, res.Summary = Invalid, vs[0].What
		} else {
			res.Valid, res.Summary = Unknown, "no final read_log succeeded, so acknowledged appends cannot be checked"
		}
		return res
	}
	d.FinalLength = len(final.log)
	if len(ref.log) > len(final.log) {
		op := final.op
		add(Violation{What: "applied entries lost", Node: final.node, Op: &op, Value: len(final.log), Time: final.at,
			Detail: fmt.Sprintf("the longest final log (%s) has %d entries, but %s's log read at %s had %d: entries applied before were lost (a restarted node must recover its log from its data directory).",
				final.node, len(final.log), ref.node, at(ref.at), len(ref.log))})
	}
	pos := make(map[int64]int, len(final.log))
	for j, v := range final.log {
		pos[v] = j + 1
	}
	values := make([]int64, 0, len(appends))
	for v := range appends {
		values = append(values, v)
	}
	sort.Slice(values, func(i, j int) bool { return appends[values[i]].op.Time < appends[values[j]].op.Time })
	for _, v := range values {
		a := appends[v]
		p, present := pos[v]
		if a.kind != history.OK {
			if present && a.kind != history.Fail {
				d.UnknownApplied++
			}
			continue
		}
		op := a.op
		switch {
		case !present:
			add(Violation{What: "acknowledged append lost", Node: a.op.Node, Op: &op, Value: v, Time: a.op.Time,
				Detail: fmt.Sprintf("the append of %d was acknowledged by %s at %s (index %s) but is not in the final log of %d entries (read from %s): an acknowledged entry must be committed, and committed entries must survive.",
					v, a.op.Node, at(a.op.Time), indexText(a.v.Index), len(final.log), final.node)})
		case a.v.Index != nil && *a.v.Index != int64(p):
			add(Violation{What: "wrong index", Node: a.op.Node, Op: &op, Value: v, Time: a.op.Time,
				Detail: fmt.Sprintf("the append of %d was acknowledged at index %d, but the final log has it at index %d.", v, *a.v.Index, p)})
		}
	}
	res.Details, res.Violations = d, vs
	stats := fmt.Sprintf("%d acknowledged, %d failed, %d unknown (%d of those applied), %d reads, final log %d entries",
		d.Acknowledged, d.Failed, d.Unknown, d.UnknownApplied, d.Reads, d.FinalLength)
	switch {
	case len(vs) > 0:
		res.Valid, res.Summary = Invalid, vs[0].What+": "+stats
	case d.Acknowledged == 0:
		res.Valid, res.Summary = Unknown, "no append was acknowledged, so nothing can be judged: "+stats
	default:
		res.Summary = stats
	}
	return res
}

func indexText(i *int64) string {
	if i == nil {
		return "none"
	}
	return fmt.Sprint(*i)
}
