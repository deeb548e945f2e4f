package timekeeper

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-timekeeper` does
// with the binary.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStages(t, "stages.tsv", prog)
}
