package orchestrator

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// quick are the stages the default test run grades, to keep it short:
// one of each kind (a machine, a cluster, faults, both counter-examples).
var quick = map[string]bool{"single": true, "five": true, "kill": true, "no-fit": true, "edge": true}

// TestGradeStagesInProcess grades the quick stages of stages.tsv
// in-process under virtual time, as `make track-orchestrator` does with
// the binary, and logs the orchestrate checker's figures (printed with
// -v). Every stage over 20 seeds:
//
//	go test -run TestGradeStagesInProcess -v -timeout 60m ./tracks/orchestrator/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	skip := func(st stages.Stage) string {
		if quick[st.Name] {
			return ""
		}
		return "graded by -sweep and by make track-orchestrator"
	}
	gradetest.RunStagesSkippingThen(t, "stages.tsv", prog, skip, gradetest.LogResults("orchestrate"))
}
