package checker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// op is an invocation with its completion, remembering where both sit in
// the history. Positions, not Op.Index, order events: checkers must not
// trust a field the producer could have left unset.
type op struct {
	inv, comp  int // positions in the history; comp is -1 when never completed
	invoke     history.Op
	completion *history.Op
}

// pairUp matches invocations with completions by process, in invocation
// order, like history.History.Pairs.
func pairUp(h history.History) []op {
	open := map[int]int{}
	var ops []op
	for i := range h {
		o := h[i]
		if o.Type == history.Invoke {
			open[o.Process] = len(ops)
			ops = append(ops, op{inv: i, comp: -1, invoke: o})
			continue
		}
		if j, ok := open[o.Process]; ok {
			c := o
			ops[j].comp = i
			ops[j].completion = &c
			delete(open, o.Process)
		}
	}
	return ops
}

// outcome treats an op the run never completed like :info.
func (p op) outcome() history.Type {
	if p.completion == nil {
		return history.Info
	}
	return p.completion.Type
}

// observed is the entry that best shows what happened: the completion when
// there is one, else the invocation.
func (p op) observed() *history.Op {
	if p.completion != nil {
		return p.completion
	}
	o := p.invoke
	return &o
}

func (p op) node() string {
	if p.completion != nil && p.completion.Node != "" {
		return p.completion.Node
	}
	return p.invoke.Node
}

func (p op) final() bool {
	return p.invoke.Final || (p.completion != nil && p.completion.Final)
}

// at renders a duration since the start of the run the way op strings do.
func at(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// where says "on n1 (p3)" or "(p3)" when the node is unknown.
func where(node string, process int) string {
	if node == "" {
		return fmt.Sprintf("(p%d)", process)
	}
	return fmt.Sprintf("on %s (p%d)", node, process)
}

// asInt64 accepts the integer shapes a value can take after JSON decoding
// or in hand-built histories.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case *int64:
		if x == nil {
			return 0, false
		}
		return *x, true
	case float64:
		// float64(math.MaxInt64) is 2^63, one past the range: reject it
		// rather than convert it to math.MinInt64.
		if x != math.Trunc(x) || math.IsInf(x, 0) || x >= math.MaxInt64 || x < math.MinInt64 {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// asInt64s accepts []int64 and JSON-decoded []any of integers.
func asInt64s(v any) ([]int64, bool) {
	switch x := v.(type) {
	case []int64:
		return x, true
	case nil:
		return nil, true
	case []any:
		out := make([]int64, 0, len(x))
		for _, e := range x {
			n, ok := asInt64(e)
			if !ok {
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	return nil, false
}

// quantile picks the element at floor(n*q), clamped, from sorted values:
// the same nearest-rank rule Jepsen's latency summaries use.
func quantile[T cmp.Ordered](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	i := int(math.Floor(float64(len(sorted)) * q))
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func quantilesOf(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Quantiles{
		Count: len(s),
		P50:   quantile(s, 0.5),
		P95:   quantile(s, 0.95),
		P99:   quantile(s, 0.99),
		Max:   s[len(s)-1],
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func sortByCompletion(ops []op) {
	slices.SortStableFunc(ops, func(a, b op) int { return cmp.Compare(a.comp, b.comp) })
}

func sortStrings(s []string) { slices.Sort(s) }

// elemIndex maps values to dense indices. Workloads number their
// elements 0, 1, 2, …, so a slice usually replaces the map, which matters
// when reads hold every element seen so far.
type elemIndex struct {
	lo    int64
	dense []int32 // index+1 of value lo+k; 0 = absent. nil: use m
	m     map[int64]int
}

func newElemIndex(idx map[int64]int, n int) elemIndex {
	if n == 0 {
		return elemIndex{m: idx}
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for v := range idx {
		lo, hi = min(lo, v), max(hi, v)
	}
	span := hi - lo
	if span < 0 || span >= int64(4*n+1024) || n >= math.MaxInt32 {
		return elemIndex{m: idx}
	}
	dense := make([]int32, span+1)
	for v, i := range idx {
		dense[v-lo] = int32(i + 1)
	}
	return elemIndex{lo: lo, dense: dense}
}

// get returns v's index, or -1.
func (x elemIndex) get(v int64) int {
	if x.dense == nil {
		if i, ok := x.m[v]; ok {
			return i
		}
		return -1
	}
	k := uint64(v - x.lo)
	if k >= uint64(len(x.dense)) {
		return -1
	}
	return int(x.dense[k]) - 1
}
