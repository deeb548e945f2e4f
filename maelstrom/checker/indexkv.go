package checker

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The index-kv workload's history values: put, get and delete are
// history.KV (a delete carries no value; a get's completion carries the
// value read, nil for absent); scan is IndexScan and query IndexQuery.

// IndexScan is a range scan: keys in [From, To), at most Limit of them;
// on ok, Items holds the [key, value] pairs returned, in key order.
type IndexScan struct {
	From  int64      `json:"from"`
	To    int64      `json:"to"`
	Limit int        `json:"limit"`
	Items [][2]int64 `json:"items,omitempty"`
}

// IndexQuery asks for the keys whose value has attribute Attr; on ok, Keys
// holds them.
type IndexQuery struct {
	Attr string  `json:"attr"`
	Keys []int64 `json:"keys,omitempty"`
}

// IndexAttrs is how many attribute values there are.
const IndexAttrs = 4

// IndexAttr is the secondary attribute of a value: "a0" .. "a3", its value
// modulo IndexAttrs. The grader sends it with every put so that nodes need
// not know the rule.
func IndexAttr(v int64) string { return fmt.Sprintf("a%d", ((v%IndexAttrs)+IndexAttrs)%IndexAttrs) }

// IndexKVDetails is IndexKV's evidence and figures.
type IndexKVDetails struct {
	Scans        int `json:"scans"`         // ok scans checked
	ScannedKeys  int `json:"scanned-keys"`  // key positions those scans covered
	Queries      int `json:"queries"`       // ok queries checked
	StaleQueries int `json:"stale-queries"` // queries explained only with the allowed lag
	// MaxStaleness is, over the stale queries, how far before the query's
	// invocation a state had to be looked for to explain the answer.
	MaxStaleness time.Duration `json:"max-staleness"`
}

// IndexKV checks the scans and queries of an index-kv history. Scans and
// queries are not required to be atomic snapshots: each key they cover is
// checked on its own. For every key a scan or query covers, the answer
// (the value returned, or the key's absence; for a query, whether the
// key's attribute matched) must be one the key could have had at some
// instant between the operation's invocation and its completion: the
// value of a write that may have taken effect by then and had not
// certainly been overwritten before the invocation, or absence (initial,
// or a delete). A write whose outcome is unknown may take effect at any
// time after its invocation; a failed one never happened.
//
// lag widens the window of queries backwards: a secondary index that is
// maintained asynchronously may answer from a state up to lag old. Such
// answers are counted as stale, so the cost of asynchrony is measured.
// Point reads are checked separately (Linearizable, per key).
func IndexKV(h history.History, lag time.Duration) Result {
	res := Result{Checker: "index-kv", Valid: Valid}
	var d IndexKVDetails
	pairs := pairUp(h)
	writes := map[int64][]kvWrite{}
	keys := map[int64]bool{}
	for _, p := range pairs {
		if p.invoke.Process < 0 || (p.invoke.F != "put" && p.invoke.F != "delete") || p.outcome() == history.Fail {
			continue
		}
		kv, ok := kvOf(p.invoke.Value)
		if !ok {
			continue
		}
		w := kvWrite{inv: p.invoke.Time, comp: math.MaxInt64, src: p}
		if p.outcome() == history.OK {
			w.comp = p.completion.Time
		}
		if p.invoke.F == "put" && kv.Value != nil {
			w.present, w.value = true, *kv.Value
		}
		writes[kv.Key] = append(writes[kv.Key], w)
		keys[kv.Key] = true
	}
	violations := 0
	fail := func(v Violation) {
		res.Valid = Invalid
		violations++
		if len(res.Violations) < maxViolations {
			res.Violations = append(res.Violations, v)
		}
	}
	for _, p := range pairs {
		if p.invoke.Process < 0 || p.outcome() != history.OK {
			continue
		}
		ti, tc := p.invoke.Time, p.completion.Time
		o := p.completion
		switch p.invoke.F {
		case "scan":
			in, _ := p.invoke.Value.(IndexScan)
			out, ok := o.Value.(IndexScan)
			if !ok {
				continue
			}
			d.Scans++
			if why := scanShape(in, out.Items); why != "" {
				fail(Violation{What: "malformed scan", Node: p.node(), Op: o, Value: out.Items, Time: tc,
					Detail: fmt.Sprintf("scan [%d, %d) limit %d %s at %s: %s", in.From, in.To, in.Limit, where(p.node(), p.invoke.Process), at(tc), why)})
				continue
			}
			got := map[int64]int64{}
			for _, it := range out.Items {
				got[it[0]] = it[1]
			}
			last := in.To - 1
			if len(out.Items) >= in.Limit && len(out.Items) > 0 {
				last = out.Items[len(out.Items)-1][0] // keys past the limit are not covered
			}
			for k := in.From; k <= last; k++ {
				d.ScannedKeys++
				v, present := got[k]
				if possible(writes[k], ti, tc, func(w kvWrite) bool { return w.present == present && (!present || w.value == v) }) {
					continue
				}
				what, detail := "scan missed a key", fmt.Sprintf("key %d is absent from the result", k)
				if present {
					what, detail = "scan returned a value the key could not have", fmt.Sprintf("it returned key %d = %d", k, v)
				}
				fail(Violation{What: what, Node: p.node(), Op: o, Value: map[string]any{"key": k, "value": valueOrNil(v, present)}, Time: tc,
					Detail: fmt.Sprintf("scan [%d, %d) limit %d %s, invoked at %s and ok at %s: %s; %s", in.From, in.To, in.Limit,
						where(p.node(), p.invoke.Process), at(ti), at(tc), detail, explainKey(writes[k], k, ti, tc, present, v))})
			}
		case "query":
			in, _ := p.invoke.Value.(IndexQuery)
			out, ok := o.Value.(IndexQuery)
			if !ok {
				continue
			}
			d.Queries++
			got := map[int64]bool{}
			for _, k := range out.Keys {
				got[k] = true
			}
			all := slices.Sorted(func(yield func(int64) bool) {
				seen := map[int64]bool{}
				for k := range keys {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
				for k := range got {
					if !seen[k] && !yield(k) {
						return
					}
				}
			})
			stale := time.Duration(0)
			for _, k := range all {
				match := func(w kvWrite) bool { return (w.present && IndexAttr(w.value) == in.Attr) == got[k] }
				if possible(writes[k], ti, tc, match) {
					continue
				}
				if lag > 0 && possible(writes[k], ti-lag, tc, match) {
					stale = max(stale, staleness(writes[k], ti, lag, tc, match))
					continue
				}
				what, detail := "query missed a key", fmt.Sprintf("key %d is missing", k)
				if got[k] {
					what, detail = "query returned a key without the attribute", fmt.Sprintf("it returned key %d", k)
				}
				fail(Violation{What: what, Node: p.node(), Op: o, Value: map[string]any{"attr": in.Attr, "key": k}, Time: tc,
					Detail: fmt.Sprintf("query %s %s, invoked at %s and ok at %s: %s; %s%s", in.Attr, where(p.node(), p.invoke.Process),
						at(ti), at(tc), detail, explainAttr(writes[k], k, ti, tc), lagNote(lag))})
			}
			if stale > 0 {
				d.StaleQueries++
				d.MaxStaleness = max(d.MaxStaleness, stale)
			}
		}
	}
	res.Details = d
	figures := fmt.Sprintf("%d scans (%d key positions), %d queries", d.Scans, d.ScannedKeys, d.Queries)
	if lag > 0 {
		figures += fmt.Sprintf(", %d stale within the %v lag (max %v)", d.StaleQueries, lag, d.MaxStaleness.Round(time.Millisecond))
	}
	if res.Valid == Invalid {
		res.Summary = fmt.Sprintf("%d violations in %s; first: %s", violations, figures, res.Violations[0].Detail)
	} else {
		res.Summary = "every scan and query is explained by the writes around it: " + figures
	}
	return res
}

type kvWrite struct {
	inv, comp time.Duration // comp MaxInt64 when the outcome is unknown
	present   bool          // put (true) or delete
	value     int64
	src       op
}

func valueOrNil(v int64, present bool) any {
	if present {
		return v
	}
	return nil
}

// possible reports whether some state the key may have had in [ti, tc]
// satisfies ok. The key starts absent.
func possible(ws []kvWrite, ti, tc time.Duration, ok func(kvWrite) bool) bool {
	// A write is certainly overwritten before ti when another write began
	// after it completed and itself completed before ti.
	var horizon time.Duration = -1
	for _, w := range ws {
		if w.comp < ti {
			horizon = max(horizon, w.inv)
		}
	}
	initialVisible := true
	for _, w := range ws {
		if w.comp < ti {
			initialVisible = false // some write completed before ti
		}
		if w.inv <= tc && !(w.comp < horizon) && ok(w) {
			return true
		}
	}
	return initialVisible && ok(kvWrite{})
}

// staleness finds how far back before ti the window had to reach.
func staleness(ws []kvWrite, ti, lag, tc time.Duration, ok func(kvWrite) bool) time.Duration {
	lo, hi := time.Duration(0), lag
	for hi-lo > time.Millisecond {
		m := (lo + hi) / 2
		if possible(ws, ti-m, tc, ok) {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}

func lagNote(lag time.Duration) string {
	if lag > 0 {
		return fmt.Sprintf(" (even allowing answers up to %v stale)", lag)
	}
	return ""
}

func describeWrite(w kvWrite) string {
	o := w.src.observed()
	f := "delete"
	if w.present {
		f = fmt.Sprintf("put %d", w.value)
	}
	return fmt.Sprintf("%s %s invoked at %s (%s)", f, where(w.src.node(), w.src.invoke.Process), at(w.src.invoke.Time), o.Type)
}

// explainKey names the writes that rule the answer out.
func explainKey(ws []kvWrite, k int64, ti, tc time.Duration, present bool, v int64) string {
	if present {
		for _, w := range ws {
			if w.present && w.value == v {
				if w.inv > tc {
					return fmt.Sprintf("the write of %d (%s) began after the scan ended", v, describeWrite(w))
				}
				return fmt.Sprintf("%d was written by %s, but %s", v, describeWrite(w), lastBefore(ws, ti))
			}
		}
		return fmt.Sprintf("no put ever wrote %d to key %d", v, k)
	}
	return fmt.Sprintf("the key could only hold a value then: %s", lastBefore(ws, ti))
}

func explainAttr(ws []kvWrite, k int64, ti, tc time.Duration) string {
	return fmt.Sprintf("key %d's possible states then rule that out: %s", k, lastBefore(ws, ti))
}

// lastBefore describes the latest write completed before t.
func lastBefore(ws []kvWrite, t time.Duration) string {
	var best *kvWrite
	for i := range ws {
		w := &ws[i]
		if w.comp < t && (best == nil || w.inv > best.inv) {
			best = w
		}
	}
	if best == nil {
		return "no write to the key had completed before the operation began"
	}
	return "the last write known complete before the operation began is " + describeWrite(*best)
}

// scanShape checks a scan's result on its own: in range, ascending, no
// repeats, within the limit.
func scanShape(in IndexScan, items [][2]int64) string {
	if len(items) > in.Limit {
		return fmt.Sprintf("%d items, over the limit", len(items))
	}
	for i, it := range items {
		if it[0] < in.From || it[0] >= in.To {
			return fmt.Sprintf("key %d is outside the range", it[0])
		}
		if i > 0 && it[0] <= items[i-1][0] {
			return fmt.Sprintf("keys not in ascending order: %d after %d", it[0], items[i-1][0])
		}
	}
	return ""
}

// IndexKVLinearizable checks the point operations of an index-kv history
// (put, get, delete) with Linearizable, key by key: a put is a write, a
// delete a write of null, a get a read. Its evidence names the original
// operations.
func IndexKVLinearizable(h history.History, timeout time.Duration, outDir string) Result {
	var lin history.History
	for _, o := range h {
		switch o.F {
		case "put":
			o.F = "write"
		case "delete":
			o.F = "write"
			if kv, ok := kvOf(o.Value); ok {
				kv.Value = nil
				o.Value = kv
			}
		case "get":
			o.F = "read"
		default:
			if o.Process >= 0 {
				continue // scans and queries are checked by IndexKV
			}
		}
		lin = append(lin, o) // Index stays the original position
	}
	res := Linearizable(lin, timeout, outDir)
	names := strings.NewReplacer("write(null)", "delete()", "write(", "put(", "read()", "get()")
	res.Summary = names.Replace(res.Summary)
	for i := range res.Violations {
		v := &res.Violations[i]
		v.Detail = names.Replace(v.Detail)
		if v.Op != nil && v.Op.Index >= 0 && v.Op.Index < len(h) {
			orig := h[v.Op.Index]
			v.Op, v.Value = &orig, orig.Value
		}
	}
	return res
}
