package tracer

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-tracer` does with the binary, and
// logs the trace figures (printed with -v). A sweep grades every stage on
// many seeds:
//
//	go test -run TestGradeStagesInProcess -v -timeout 60m ./tracks/tracer/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, gradetest.LogResults("trace"))
}
