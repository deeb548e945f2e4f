package indexes

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func program_([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-indexes` does with the binary, and
// logs the figures the lesson quotes (with -v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", program_, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if res, ok := rep.Result("index-kv"); ok {
			t.Logf("%s: %s", st.Name, res.Summary)
		}
		if st.Name == "global-index" || st.Name == "global-async" || st.Name == "local-index" {
			for _, f := range []string{"put", "query"} {
				if c, ok := rep.ByF[f]; ok {
					t.Logf("%s: %s %+v", st.Name, f, c)
				}
			}
		}
		_ = checker.Valid
	})
}
