package checker

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/realclock"
)

// regValue is a register's content; the zero value is null, the initial
// state of every lin-kv key.
type regValue struct {
	set bool
	v   int64
}

func (r regValue) String() string {
	if !r.set {
		return "null"
	}
	return strconv.FormatInt(r.v, 10)
}

func regOf(p *int64) regValue {
	if p == nil {
		return regValue{}
	}
	return regValue{set: true, v: *p}
}

// kvCall is one lin-kv operation as the model sees it.
type kvCall struct {
	f        string // read, write, cas
	arg      regValue
	from, to regValue
	// maybe marks an op whose outcome is unknown (:info or never
	// completed). It may have taken effect or not; the checker gives it an
	// unbounded return time, so "not" is the same as "at the very end".
	maybe bool
	src   op
}

// casRegister is the model Knossos uses for lin-kv: a compare-and-set
// register. A cas that might not have happened is allowed to fail quietly
// when its precondition does not hold, because then it changed nothing.
func casRegisterModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return regValue{} },
		Step: func(state, input, output any) (bool, any) {
			s := state.(regValue)
			c := input.(*kvCall)
			switch c.f {
			case "read":
				return output.(regValue) == s, s
			case "write":
				return true, c.arg
			case "cas":
				if s == c.from {
					return true, c.to
				}
				return c.maybe, s
			}
			return false, s
		},
		DescribeOperation: func(input, output any) string {
			c := input.(*kvCall)
			q := ""
			if c.maybe {
				q = " (outcome unknown)"
			}
			switch c.f {
			case "read":
				return fmt.Sprintf("read() → %v", output)
			case "write":
				return fmt.Sprintf("write(%v)%s", c.arg, q)
			default:
				return fmt.Sprintf("cas(%v → %v)%s", c.from, c.to, q)
			}
		},
		DescribeState: func(state any) string { return state.(regValue).String() },
	}
}

// LinearizableKey is the verdict for one key.
type LinearizableKey struct {
	Key     int64    `json:"key"`
	Valid   Validity `json:"valid"`
	OpCount int      `json:"op-count"`
	File    string   `json:"file,omitempty"` // visualisation, for invalid keys
	// Involved lists, for an invalid key, the operation that cannot be
	// linearized, then the operations of the longest consistent order
	// that overlap it in time, and the last operation of that order.
	Involved   []string `json:"involved,omitempty"`
	Unverified string   `json:"unverified,omitempty"`
}

// LinearizableDetails is Linearizable's evidence.
type LinearizableDetails struct {
	Keys     []LinearizableKey `json:"keys"`
	Failures []int64           `json:"failures,omitempty"`
	Unknown  []int64           `json:"unknown,omitempty"`
}

// Linearizable checks a lin-kv history: each key independently must be a
// linearizable compare-and-set register that starts out null. Failed ops
// are left out (they did not happen), reads of unknown outcome say
// nothing, and writes and cas of unknown outcome may take effect at any
// point after their invocation.
//
// The whole check gets timeout (0 or less means no limit). A key whose
// search runs out of time is unknown, and so is the verdict unless another
// key is invalid. For an invalid key the search is repeated with
// porcupine's bookkeeping on, to name the operation no linearization can
// explain and to write an HTML visualisation to
// outDir/linear-key-<key>.html (nothing is written when outDir is "").
func Linearizable(h history.History, timeout time.Duration, outDir string) Result {
	res := Result{Checker: "linearizable", Valid: Valid}
	// The key-by-key searches share timeout, measured on the real clock;
	// the reruns that gather evidence for keys already known to be illegal
	// share a short grace period after it, so a run with many bad keys
	// still ends in bounded time.
	budget := newSearchBudget(timeout)
	evidenceUntil := budget.deadline
	if timeout > 0 {
		evidenceUntil += realclock.Instant(evidenceGrace)
	}
	model := casRegisterModel()
	perKey, keys, skippedOps := splitKV(h)
	skipped := len(skippedOps)
	// Keys are independent: check them side by side so that one hard key
	// cannot starve the others of the budget.
	verdicts := make([]LinearizableKey, len(keys))
	found := make([]*Violation, len(keys))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			verdicts[i], found[i] = checkKey(model, k, perKey[k], budget, evidenceUntil, outDir)
		}()
	}
	wg.Wait()
	var d LinearizableDetails
	d.Keys = verdicts
	for i, kr := range verdicts {
		switch kr.Valid {
		case Invalid:
			d.Failures = append(d.Failures, kr.Key)
			res.Violations = append(res.Violations, *found[i])
		case Unknown:
			d.Unknown = append(d.Unknown, kr.Key)
		}
	}
	res.Details = d
	note := ""
	if skipped > 0 {
		firstSkipped := skippedOps[0]
		note = fmt.Sprintf(" (%d ops with unreadable values skipped)", skipped)
		res.Violations = append(res.Violations, Violation{What: "unreadable op", Time: firstSkipped.observed().Time, Op: firstSkipped.observed(), Node: firstSkipped.node(), Value: firstSkipped.observed().Value,
			Detail: fmt.Sprintf("%s %s at %s has value %#v, which is not a lin-kv key/value; the checker skipped it", firstSkipped.invoke.F, where(firstSkipped.node(), firstSkipped.invoke.Process), at(firstSkipped.invoke.Time), firstSkipped.observed().Value)})
	}
	switch {
	case len(d.Failures) > 0:
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s of %d not linearizable (%v)%s; first: %s", plural(len(d.Failures), "key", "keys"), len(keys), d.Failures, note, res.Violations[0].Detail)
		if len(res.Violations) > maxViolations {
			res.Violations = res.Violations[:maxViolations]
		}
	case len(d.Unknown) == 0 && skipped > 0:
		// The skipped ops might be exactly the ones that break the
		// register; saying valid would be a guess.
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("the %d keys checked are linearizable, but %d ops had values the checker could not read, so the verdict is open", len(keys), skipped)
	case len(d.Unknown) > 0:
		res.Valid = Unknown
		rest := "; the rest are linearizable"
		if len(d.Unknown) == len(keys) {
			rest = ""
		}
		why := ""
		for _, kr := range verdicts {
			if kr.Valid == Unknown {
				why = fmt.Sprintf("; key %d: %s", kr.Key, kr.Unverified)
				break
			}
		}
		res.Summary = fmt.Sprintf("could not decide %s of %d within %v (%v)%s%s%s", plural(len(d.Unknown), "key", "keys"), len(keys), timeout, d.Unknown, note, rest, why)
	default:
		res.Summary = fmt.Sprintf("all %d keys linearizable (%d ops)%s", len(keys), len(pairUp(h)), note)
	}
	return res
}

func checkKey(model porcupine.Model, k int64, calls []*kvCall, budget *searchBudget, evidenceUntil realclock.Instant, outDir string) (LinearizableKey, *Violation) {
	kr := LinearizableKey{Key: k, OpCount: len(calls)}
	if budget.deadline != 0 && budget.deadline.Passed() {
		kr.Valid = Unknown
		kr.Unverified = "not checked: the time budget ran out"
		return kr, nil
	}
	ops := toPorcupine(calls)
	search := budget.search(len(ops), budget.deadline)
	verdict := porcupine.CheckOperations(search.model(model), ops)
	search.done()
	switch {
	case verdict:
		kr.Valid = Valid
	case search.cut:
		kr.Valid = Unknown
		kr.Unverified = fmt.Sprintf("the search for a linearization ran out of time or memory (%d operations, up to %d at once, %d of unknown outcome)", len(ops), maxOverlap(ops), countMaybe(calls))
	default:
		kr.Valid = Invalid
		v := explainIllegal(model, k, calls, ops, budget.search(len(ops), evidenceUntil), outDir)
		kr.File = v.file
		kr.Involved = v.involved
		return kr, &v.Violation
	}
	return kr, nil
}

// splitKV groups the ops that constrain the register by key.
func splitKV(h history.History) (map[int64][]*kvCall, []int64, []op) {
	perKey := map[int64][]*kvCall{}
	var skipped []op
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 {
			continue
		}
		out := p.outcome()
		if out == history.Fail {
			continue
		}
		kv, ok := kvOf(p.invoke.Value)
		if !ok {
			skipped = append(skipped, p)
			continue
		}
		c := &kvCall{f: p.invoke.F, maybe: out != history.OK, src: p}
		switch p.invoke.F {
		case "read":
			if c.maybe {
				continue // an unanswered read constrains nothing
			}
			if _, ok := kvOf(p.completion.Value); !ok {
				skipped = append(skipped, p)
				continue
			}
		case "write":
			c.arg = regOf(kv.Value)
		case "cas":
			c.from, c.to = regOf(kv.From), regOf(kv.To)
		default:
			skipped = append(skipped, p)
			continue
		}
		perKey[kv.Key] = append(perKey[kv.Key], c)
	}
	keys := make([]int64, 0, len(perKey))
	for k := range perKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return perKey, keys, skipped
}

func kvOf(v any) (history.KV, bool) {
	switch x := v.(type) {
	case history.KV:
		return x, true
	case *history.KV:
		if x != nil {
			return *x, true
		}
	}
	return history.KV{}, false
}

func toPorcupine(calls []*kvCall) []porcupine.Operation {
	// Porcupine only needs client ids for drawing; make them dense.
	client := map[int]int{}
	ops := make([]porcupine.Operation, len(calls))
	for i, c := range calls {
		id, ok := client[c.src.invoke.Process]
		if !ok {
			id = len(client)
			client[c.src.invoke.Process] = id
		}
		var output any
		if !c.maybe && c.f == "read" {
			kv, _ := kvOf(c.src.completion.Value)
			output = regOf(kv.Value)
		}
		ops[i] = porcupine.Operation{ClientId: id, Input: c, Output: output}
	}
	eventOrder(calls, ops)
	return ops
}

// eventOrder gives porcupine each call's invocation and completion as
// ranks in the order the grader saw them: by time, and at equal times by
// position in the history. Times alone are not enough: under virtual time
// a client that catches up on its schedule invokes and completes many
// operations at one instant, one after the other, and porcupine, which
// takes touching intervals as concurrent, would see dozens of operations
// in flight at once and search all their orders. An operation of unknown
// outcome never returns.
func eventOrder(calls []*kvCall, ops []porcupine.Operation) {
	type event struct {
		at   time.Duration
		pos  int
		call int
		ret  bool
	}
	events := make([]event, 0, 2*len(calls))
	for i, c := range calls {
		events = append(events, event{c.src.invoke.Time, c.src.inv, i, false})
		if !c.maybe {
			events = append(events, event{c.src.completion.Time, c.src.comp, i, true})
		}
	}
	slices.SortFunc(events, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.pos, b.pos))
	})
	for i := range ops {
		ops[i].Return = math.MaxInt64
	}
	for rank, e := range events {
		if e.ret {
			ops[e.call].Return = int64(rank)
		} else {
			ops[e.call].Call = int64(rank)
		}
	}
}

type illegal struct {
	Violation
	file     string
	involved []string
}

// evidenceGrace is how long after the budget the reruns that explain
// illegal keys may take.
const evidenceGrace = 5 * time.Second

// maxInvolved bounds the operations listed for an invalid key.
const maxInvolved = 12

// explainIllegal reruns an illegal key with porcupine's partial
// linearizations to find the operation that cannot be placed: among the
// ops left out of the longest linearizable prefix, the one that had to take
// effect earliest.
func explainIllegal(model porcupine.Model, key int64, calls []*kvCall, ops []porcupine.Operation, search *keySearch, outDir string) illegal {
	_, info := porcupine.CheckOperationsVerbose(search.model(model), ops, 0)
	search.done()
	var longest []int
	for _, part := range info.PartialLinearizations() {
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	in := make([]bool, len(ops))
	state := regValue{}
	for _, id := range longest {
		in[id] = true
		_, s := model.Step(state, ops[id].Input, ops[id].Output)
		state = s.(regValue)
	}
	culprit := -1
	for i := range ops {
		if in[i] {
			continue
		}
		if culprit < 0 || ops[i].Return < ops[culprit].Return || (ops[i].Return == ops[culprit].Return && ops[i].Call < ops[culprit].Call) {
			culprit = i
		}
	}
	var v illegal
	v.What = "not linearizable"
	if culprit < 0 {
		// Porcupine found no partial linearization to blame (the rerun ran
		// out of budget); still name the key.
		v.Detail = fmt.Sprintf("key %d: no order of its %d operations is consistent with a register; rerun with a larger time budget to see which operation", key, len(ops))
	} else {
		c := calls[culprit]
		p := c.src
		o := p.observed()
		v.Node, v.Op, v.Time = p.node(), o, o.Time
		desc := model.DescribeOperation(c, ops[culprit].Output)
		v.Value = o.Value
		prefix := "no operation on the key can come before it"
		if n := len(longest); n > 0 {
			last := ops[longest[n-1]]
			lc := last.Input.(*kvCall)
			prefix = fmt.Sprintf("the longest consistent order places %s first, ending with %s %s at %s, which leaves the register at %v",
				plural(n, "operation", "operations"), model.DescribeOperation(lc, last.Output), where(lc.src.node(), lc.src.invoke.Process), at(lc.src.invoke.Time), state)
		}
		v.involved = append(v.involved, p.observed().String())
		for n, id := range longest {
			o := ops[id]
			overlaps := o.Call <= ops[culprit].Return && ops[culprit].Call <= o.Return
			if (overlaps || n == len(longest)-1) && len(v.involved) < maxInvolved {
				v.involved = append(v.involved, o.Input.(*kvCall).src.observed().String())
			}
		}
		v.Detail = fmt.Sprintf("key %d: %s %s, invoked at %s and completed at %s, cannot be linearized: %s. Every operation must appear to take effect at one instant between its invocation and its completion",
			key, desc, where(p.node(), p.invoke.Process), at(p.invoke.Time), completionTime(p), prefix)
		if search.cut {
			v.Detail += " (the search for this explanation was cut short, so the operation named is the best found, not necessarily the first that fails)"
		}
	}
	if outDir != "" {
		path := filepath.Join(outDir, fmt.Sprintf("linear-key-%d.html", key))
		err := os.MkdirAll(outDir, 0o755)
		if err == nil {
			err = porcupine.VisualizePath(model, info, path)
		}
		if err != nil {
			v.Detail += fmt.Sprintf(" (could not write the visualisation: %v)", err)
		} else {
			v.file = path
			v.Detail += ". Timeline: " + filepath.Base(path)
		}
	}
	return v
}

func completionTime(p op) string {
	if p.completion == nil || p.completion.Type != history.OK {
		return "an unknown time (no ok reply)"
	}
	return at(p.completion.Time)
}

// maxOverlap is the largest number of operations in flight at one instant:
// the search's cost grows with it exponentially, not with the op count.
func maxOverlap(ops []porcupine.Operation) int {
	type edge struct {
		t     int64
		delta int
	}
	edges := make([]edge, 0, 2*len(ops))
	for _, o := range ops {
		edges = append(edges, edge{o.Call, 1}, edge{o.Return, -1})
	}
	// At equal times, count the start first: porcupine treats touching
	// intervals as concurrent.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		return cmp.Compare(b.delta, a.delta)
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return most
}

func countMaybe(calls []*kvCall) int {
	n := 0
	for _, c := range calls {
		if c.maybe {
			n++
		}
	}
	return n
}
