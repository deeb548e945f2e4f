package spans

import (
	"testing"
	"time"
)

func chain() []Span {
	return []Span{
		{Trace: "t", Span: "a", Parent: "client", Node: "n1", Start: 0, End: 100},
		{Trace: "t", Span: "b", Parent: "a", Node: "n2", Start: 10, End: 90},
		{Trace: "t", Span: "c", Parent: "b", Node: "n3", Start: 20, End: 80},
	}
}

func TestAssembleIgnoresArrivalOrder(t *testing.T) {
	c := NewCollector()
	ss := chain()
	for _, i := range []int{2, 0, 1, 1} { // out of order, and a resend
		c.Add(ss[i])
	}
	tr := Assemble(c.Trace("t"))
	if len(tr.Roots) != 1 || tr.Roots[0].Span != "a" || tr.Children["a"][0].Span != "b" || tr.Children["b"][0].Span != "c" {
		t.Fatalf("tree %+v", tr)
	}
}

// TestDropLateOrphans: the counter-example collector drops b (its parent
// a arrived first), and c is left an orphan: two roots.
func TestDropLateOrphans(t *testing.T) {
	c := NewCollector()
	c.DropLate = true
	ss := chain()
	for _, i := range []int{2, 0, 1} {
		c.Add(ss[i])
	}
	tr := Assemble(c.Trace("t"))
	if c.Dropped != 1 || len(tr.Roots) != 2 {
		t.Fatalf("dropped %d, roots %+v", c.Dropped, tr.Roots)
	}
}

func TestTailSamplerKeepsErrorsAndSlow(t *testing.T) {
	ts := TailSampler{Slow: 50 * time.Millisecond}
	fast := chain()
	if ts.Keep(fast) {
		t.Fatal("kept a fast, clean trace with KeepEvery 0")
	}
	failed := chain()
	failed[2].Error = true
	if !ts.Keep(failed) {
		t.Fatal("dropped a failed trace")
	}
	slow := chain()
	slow[0].End = 60_000 // 60 ms in µs
	if !ts.Keep(slow) {
		t.Fatal("dropped a slow trace")
	}
	ts.KeepEvery = 2
	kept := 0
	for range 10 {
		if ts.Keep(fast) {
			kept++
		}
	}
	if kept != 5 {
		t.Fatalf("kept %d of 10 with KeepEvery 2", kept)
	}
}
