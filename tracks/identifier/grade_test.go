package identifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-identifier` does
// with the binary.
func TestGradeStagesInProcess(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			if _, err := maelstrom.ParseArgs(st.GraderArgs); err != nil {
				var ue *maelstrom.UsageError
				if errors.As(err, &ue) && strings.Contains(err.Error(), `"kill"`) {
					t.Skipf("the grader does not offer the kill nemesis yet: %v", err)
				}
			}
			gradetest.RunStage(t, st, prog)
		})
	}
}
