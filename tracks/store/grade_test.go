package store

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-store` does with the binary.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStages(t, "stages.tsv", func([]string) program.Program { return node.Program(Configure) })
}
