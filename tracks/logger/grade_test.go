package logger

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-logger` does with the binary. There
// a kill is a power failure of the node's simulated disk: only what the
// wal fsynced survives.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStages(t, "stages.tsv", func([]string) program.Program { return node.Program(Configure) })
}
