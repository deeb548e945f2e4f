// Package spans is the tracer track's collector: it receives finished
// spans from every node, in whatever order the network delivers them, and
// assembles them into traces by trace id; a trace's shape (who is whose
// parent) is rebuilt from the parent ids, never from arrival order.
// It also holds the tail sampler, which decides once a trace is complete
// whether to keep it.
package spans

import (
	"maps"
	"slices"
	"time"
)

// Span is one finished unit of work on one node.
type Span struct {
	Trace  string `json:"trace"`
	Span   string `json:"span"`
	Parent string `json:"parent"` // the caller's span (maybe on another node, or the client)
	Node   string `json:"node"`
	Name   string `json:"name"`
	Start  int64  `json:"start"` // Unix microseconds, by the node's clock
	End    int64  `json:"end"`
	Error  bool   `json:"error,omitempty"`
}

// Collector assembles traces. Not safe for concurrent use.
type Collector struct {
	traces map[string][]Span
	seen   map[string]bool // span ids received
	// DropLate is the track's counter-example: a collector that treats a
	// trace as closed once a span's parent has arrived, and drops any
	// child that arrives after it. Children finish before their parents,
	// but their reports travel from other nodes and often arrive later:
	// this loses spans and leaves their own children orphaned.
	DropLate bool
	Dropped  int
}

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{traces: map[string][]Span{}, seen: map[string]bool{}}
}

// Add records a span; a span id already recorded is ignored, so that a
// node may resend a batch whose acknowledgement it missed.
func (c *Collector) Add(s Span) {
	if c.seen[s.Span] {
		return
	}
	if c.DropLate && c.seen[s.Parent] {
		c.Dropped++
		return
	}
	c.seen[s.Span] = true
	c.traces[s.Trace] = append(c.traces[s.Trace], s)
}

// Traces returns every trace's spans, by trace id.
func (c *Collector) Traces() map[string][]Span {
	out := make(map[string][]Span, len(c.traces))
	for id, ss := range c.traces {
		out[id] = slices.Clone(ss)
	}
	return out
}

// Trace returns one trace's spans.
func (c *Collector) Trace(id string) []Span { return slices.Clone(c.traces[id]) }

// Tree is a trace assembled: the roots (spans whose parent is not in the
// trace) and each span's children. Orphans are roots that were not meant
// to be: a trace with more than one root has lost a span.
type Tree struct {
	Roots    []Span
	Children map[string][]Span
}

// Assemble builds the tree of a trace's spans, children in start order.
func Assemble(ss []Span) Tree {
	t := Tree{Children: map[string][]Span{}}
	ids := map[string]bool{}
	for _, s := range ss {
		ids[s.Span] = true
	}
	for _, s := range ss {
		if ids[s.Parent] {
			t.Children[s.Parent] = append(t.Children[s.Parent], s)
		} else {
			t.Roots = append(t.Roots, s)
		}
	}
	for k := range maps.Keys(t.Children) {
		slices.SortFunc(t.Children[k], func(a, b Span) int { return int(a.Start - b.Start) })
	}
	return t
}

// TailSampler keeps a complete trace when it is worth looking at: any
// span failed, or the root took longer than Slow; of the rest it keeps
// one in KeepEvery. Unlike head sampling, the decision sees the whole
// trace, so the errors and the slow requests are never the ones thrown
// away — at the price of buffering every trace until it is complete.
type TailSampler struct {
	Slow      time.Duration
	KeepEvery int
	n         int
}

// Keep decides for one complete trace.
func (ts *TailSampler) Keep(ss []Span) bool {
	t := Assemble(ss)
	for _, s := range ss {
		if s.Error {
			return true
		}
	}
	for _, r := range t.Roots {
		if time.Duration(r.End-r.Start)*time.Microsecond > ts.Slow {
			return true
		}
	}
	ts.n++
	return ts.KeepEvery > 0 && ts.n%ts.KeepEvery == 0
}
