package advanced

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-advanced` does with the binary.
func TestGradeStagesInProcess(t *testing.T) {
	prog := func([]string) program.Program { return node.Program(Configure) }
	gradetest.RunStages(t, "stages.tsv", prog)
}
