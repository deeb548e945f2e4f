package reactor

import (
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-reactor` does with the binary, and
// logs the read models' staleness and the log's figures (go test -v).
// Replicated stages that pass must also have refused conflicts: a run in
// which no two commands collided did not test the expected version.
func TestGradeStagesInProcess(t *testing.T) {
	prog := func([]string) program.Program { return node.Program(Configure) }
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if res, ok := rep.Result("projection"); ok {
			if d, ok := res.Details.(checker.ProjectionDetails); ok {
				t.Logf("%s: read-model staleness p50 %v p99 %v max %v over %d answers (%d fresh)",
					st.Name, d.Staleness.P50, d.Staleness.P99, d.Staleness.Max, d.Answers, d.Fresh)
			}
		}
		if res, ok := rep.Result("eventstore"); ok {
			t.Logf("%s: %s", st.Name, res.Summary)
			d, _ := res.Details.(checker.EventStoreDetails)
			i := slices.Index(st.GraderArgs, "--node-count")
			replicated := i >= 0 && i+1 < len(st.GraderArgs) && st.GraderArgs[i+1] != "1"
			if st.ExpectPass && replicated && d.Conflicts == 0 {
				t.Errorf("%s: no append was refused as a conflict; the commands never collided", st.Name)
			}
		}
	})
}
