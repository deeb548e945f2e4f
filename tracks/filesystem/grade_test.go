package filesystem

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-filesystem` does with the binary, and
// logs the checkers' figures (printed with -v). Every stage over 20 seeds:
//
//	go test -run TestGradeStagesInProcess -v -timeout 60m ./tracks/filesystem/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, gradetest.LogResults("dfs", "dfs-integrity", "dfs-repair"))
}
