package searcher

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-searcher` does with the binary, and
// logs the search checker's figures (printed with -v). Every stage over
// 20 seeds:
//
//	go test -run TestGradeStagesInProcess -v -timeout 60m ./tracks/searcher/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	prog := func([]string) program.Program { return node.Program(Configure) }
	gradetest.RunStagesThen(t, "stages.tsv", prog, gradetest.LogResults("search"))
}
