package timekeeper

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/clocks"
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// forgetfulVector ticks on a receipt but never merges the sender's
// vector: the receipt looks concurrent with the send it received.
type forgetfulVector struct{ c *clocks.VectorClock }

func (v *forgetfulVector) Stamp() any                           { return v.c.Tick() }
func (v *forgetfulVector) Receive(json.RawMessage) (any, error) { return v.c.Tick(), nil }

// deafHLC reads only its own physical clock on a receipt: a sender whose
// clock runs ahead stamps its send after the receipt.
type deafHLC struct{ c *clocks.HLC }

func (h *deafHLC) Stamp() any                           { return h.c.Now() }
func (h *deafHLC) Receive(json.RawMessage) (any, error) { return h.c.Now(), nil }

func stage(t *testing.T, name string) stages.Stage {
	t.Helper()
	return gradetest.Stage(t, "stages.tsv", name)
}

// gradeBroken grades a broken clock under a stage's grader arguments and
// returns the happens-before result, which must be invalid.
func gradeBroken(t *testing.T, stageName string, clock NewClock) checker.Result {
	t.Helper()
	st := stage(t, stageName)
	rep := gradetest.Grade(t, st, func([]string) program.Program {
		return node.Program(func(n *node.Node) error { With(clock)(n); return nil })
	})
	hb, ok := rep.Result("happens-before")
	if rep.Valid != checker.Invalid || !ok || hb.Valid != checker.Invalid {
		t.Fatalf("broken clock graded %s (happens-before %s), want invalid by happens-before\n%s", rep.Valid, hb.Valid, rep.Summary())
	}
	if log, _ := rep.Result("clock-log"); log.Valid != checker.Valid {
		t.Errorf("the logs themselves are honest, yet clock-log says %s: %s", log.Valid, log.Summary)
	}
	return hb
}

func TestGraderRejectsVectorClockThatForgetsToMerge(t *testing.T) {
	hb := gradeBroken(t, "vector", func(id string, _ []string, _ program.Clock) Clock {
		return &forgetfulVector{c: clocks.NewVectorClock(id)}
	})
	v := hb.First()
	// The first violation is a send and its receipt, with both vectors.
	for _, want := range []string{"send event", "recv event", "received the message of", "compare concurrent, not before", "true time"} {
		if !strings.Contains(v.Detail, want) {
			t.Errorf("first violation does not say %q:\n%s", want, v.Detail)
		}
	}
	if v.Node == "" || v.Time <= 0 {
		t.Errorf("violation without node or time: %+v", v)
	}
	t.Log(v.Detail)
}

func TestGraderRejectsHLCThatIgnoresReceivedTime(t *testing.T) {
	hb := gradeBroken(t, "hlc", func(_ string, _ []string, p program.Clock) Clock {
		return &deafHLC{c: clocks.NewHLC(p, 0)}
	})
	v := hb.First()
	for _, want := range []string{"send event", "recv event", "received the message of", "HLC timestamps are out of order", "is not less than", "clock reading"} {
		if !strings.Contains(v.Detail, want) {
			t.Errorf("first violation does not say %q:\n%s", want, v.Detail)
		}
	}
	t.Log(v.Detail)
}

func TestConfigureRejectsUnknownStage(t *testing.T) {
	if err := Setup("sundial")(nil); err == nil || !strings.Contains(err.Error(), "sundial") {
		t.Fatalf("unknown stage: %v", err)
	}
}

// aheadClock reads a second ahead of the node's clock: more than any skew
// the nemesis gives, so walls stamped from it are far from true time.
type aheadClock struct{ p program.Clock }

func (c aheadClock) Now() time.Time { return c.p.Now().Add(time.Second) }

func TestGraderRejectsHLCWallAheadOfTrueTime(t *testing.T) {
	st := stage(t, "hlc")
	rep := gradetest.Grade(t, st, func([]string) program.Program {
		return node.Program(func(n *node.Node) error {
			With(func(_ string, _ []string, p program.Clock) Clock { return &HLC{c: clocks.NewHLC(aheadClock{p}, 0)} })(n)
			return nil
		})
	})
	b, _ := rep.Result("hlc-bounds")
	if hb, _ := rep.Result("happens-before"); hb.Valid != checker.Valid || b.Valid != checker.Invalid {
		t.Fatalf("happens-before %s, hlc-bounds %s; want valid and invalid\n%s", hb.Valid, b.Valid, rep.Summary())
	}
	if d := b.First().Detail; !strings.Contains(d, "ahead of the true time") {
		t.Fatalf("first violation: %s", d)
	}
}

// deafLamport refuses every receipt, so the node logs none of them.
type deafLamport struct{ Lamport }

func (*deafLamport) Receive(json.RawMessage) (any, error) { return nil, errors.New("not listening") }

func TestGraderRejectsLogWithoutReceipts(t *testing.T) {
	rep := gradetest.Grade(t, stage(t, "lamport"), func([]string) program.Program {
		return node.Program(func(n *node.Node) error {
			With(func(string, []string, program.Clock) Clock { return &deafLamport{} })(n)
			return nil
		})
	})
	log, _ := rep.Result("clock-log")
	if log.Valid != checker.Invalid || log.First().What != "delivered message missing from the log" {
		t.Fatalf("clock-log %s, want the first delivered message missing\n%s", log.Valid, rep.Summary())
	}
	t.Log(log.First().Detail)
}
