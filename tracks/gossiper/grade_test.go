package gossiper

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// target is an efficiency goal read from the grader's own figures: all
// messages (client ones included) per client operation, and the stable
// latency quantiles of set-full, both in the run's virtual time, so
// they are properties of the algorithm and the seed, not of the machine.
type target struct {
	msgsPerOp float64
	p50, max  float64 // ms
}

// targets are the track's goals for the efficiency stages.
var targets = map[string]target{
	"d": {msgsPerOp: 12, p50: 350, max: 500},
	"e": {msgsPerOp: 5, p50: 800, max: 1500},
}

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-gossiper` does
// with the binary, and holds stages d and e to their targets.
func TestGradeStagesInProcess(t *testing.T) {
	for name := range targets {
		gradetest.Stage(t, "stages.tsv", name) // a target names a stage
	}
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		tg, ok := targets[st.Name]
		if !ok {
			return
		}
		f := measure(rep)
		if f.msgsPerOp > tg.msgsPerOp || f.p50 < 0 || f.p50 > tg.p50 || f.max > tg.max {
			t.Errorf("stage %s misses its target: %.2f msgs per op (want <= %.0f), stable latency p50 %.0f ms (<= %.0f), max %.0f ms (<= %.0f)\n%s",
				st.Name, f.msgsPerOp, tg.msgsPerOp, f.p50, tg.p50, f.max, tg.max, rep.Summary())
		}
		t.Logf("%.2f msgs per op, stable latency p50 %.0f ms, max %.0f ms", f.msgsPerOp, f.p50, f.max)
	})
}
