package timekeeper

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-timekeeper` does
// with the binary, and logs what the clock checkers measured.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		for _, name := range []string{"happens-before", "clock-log", "hlc-bounds"} {
			if res, ok := rep.Result(name); ok {
				t.Logf("%s %s: %s", name, res.Valid, res.Summary)
			}
		}
	})
}
