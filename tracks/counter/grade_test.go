package counter

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-counter` does with
// the binary, and logs each summary: the lesson's figures.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		t.Logf("\n%s", rep.Summary())
	})
}

// stage returns a stage of stages.tsv.
func stage(t *testing.T, name string) stages.Stage {
	t.Helper()
	return gradetest.Stage(t, "stages.tsv", name)
}

// The naive stage must fail for the lesson's reason: its reads are made
// current, so the final reads agree with each other, and what they agree
// on is less than the acknowledged adds: updates were lost, not unseen.
func TestNaiveLosesUpdatesNotReads(t *testing.T) {
	rep := gradetest.Grade(t, stage(t, "naive"), prog)
	res, ok := rep.Result("counter")
	if !ok {
		t.Fatalf("no counter result\n%s", rep.Summary())
	}
	d := res.Details.(checker.CounterDetails)
	if res.Valid != checker.Invalid || len(d.FinalReads) == 0 || len(d.Acceptable) != 1 || d.MaybeAdds != 0 {
		t.Fatalf("want an invalid verdict with one exact acceptable sum\n%s", rep.Summary())
	}
	sum := d.Acceptable[0][0]
	for _, v := range d.FinalReads {
		if v != d.FinalReads[0] || v >= sum {
			t.Fatalf("final reads %v: want all equal and below the acknowledged sum %d\n%s", d.FinalReads, sum, rep.Summary())
		}
	}
	t.Logf("naive: final reads %v, acknowledged adds sum to %d: %d lost (%.0f%%)",
		d.FinalReads, sum, sum-d.FinalReads[0], 100*float64(sum-d.FinalReads[0])/float64(sum))
}

// readBounds checks every acknowledged read of a g-counter history: it must
// count at least the adds in scope (acknowledged before the read was sent;
// own says whether only the reading node's adds are in scope) and at most
// the adds sent before it returned. It returns the first read that misses
// an add, or "".
func readBounds(t *testing.T, h history.History, own bool) string {
	t.Helper()
	type add struct {
		node    string
		delta   int64
		invoked int
		acked   int // history index of add_ok, or -1
	}
	var adds []add
	for _, p := range h.Pairs() {
		if p.Invoke.Process < 0 || p.Invoke.F != "add" {
			continue
		}
		a := add{node: p.Invoke.Node, delta: p.Invoke.Value.(int64), invoked: p.Invoke.Index, acked: -1}
		if p.Outcome() == history.OK {
			a.acked = p.Completion.Index
		}
		adds = append(adds, a)
	}
	for _, p := range h.Pairs() {
		if p.Invoke.Process < 0 || p.Invoke.F != "read" || p.Outcome() != history.OK {
			continue
		}
		v := p.Completion.Value.(int64)
		var lo, hi int64
		for _, a := range adds {
			if a.acked >= 0 && a.acked < p.Invoke.Index && (!own || a.node == p.Invoke.Node) {
				lo += a.delta
			}
			if a.invoked < p.Completion.Index {
				hi += a.delta
			}
		}
		if v > hi {
			t.Fatalf("read %s counts more than was ever sent (%d)", p.Completion, hi)
		}
		if v < lo {
			return fmt.Sprintf("read %s misses acknowledged adds: they sum to %d", p.Completion, lo)
		}
	}
	return ""
}

// Every read of the cas stage, not only the final ones, counts every add
// acknowledged anywhere before it was sent: the unique write makes each
// read current. Without it (cas-stale) some read misses such an add.
func TestCASReadsAreCurrent(t *testing.T) {
	rep := gradetest.Grade(t, stage(t, "cas"), prog)
	if miss := readBounds(t, rep.History, false); miss != "" {
		t.Fatal("cas: " + miss)
	}
	rep = gradetest.Grade(t, stage(t, "cas-stale"), prog)
	miss := readBounds(t, rep.History, false)
	if miss == "" {
		t.Fatal("cas-stale: every read was current; the counter-example shows nothing")
	}
	t.Log("cas-stale: " + miss)
}

// A CRDT node answers from its own replica, which only grows and includes
// its own adds at once: every read on a node counts at least the adds that
// node acknowledged before (read-your-writes), even in a partition.
func TestCRDTReadsSeeOwnAdds(t *testing.T) {
	rep := gradetest.Grade(t, stage(t, "g-counter"), prog)
	if miss := readBounds(t, rep.History, true); miss != "" {
		t.Fatal("g-counter: " + miss)
	}
}

// A counter-example must be caught on every seed, not on one lucky one:
// the stage arguments are tuned (rate, node count) so that it is.
func TestCounterExamplesAcrossSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("grades ten more runs")
	}
	for _, name := range []string{"naive", "cas-stale"} {
		for seed := 2; seed <= 6; seed++ {
			st := stage(t, name)
			st.GraderArgs = append(slices.Clone(st.GraderArgs), "--seed", strconv.Itoa(seed))
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) { gradetest.RunStage(t, st, prog) })
		}
	}
}
