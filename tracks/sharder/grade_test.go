package sharder

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-sharder` does with the binary, and
// logs what each change cost the shards.
func TestGradeStagesInProcess(t *testing.T) {
	prog := func([]string) program.Program { return node.Program(Configure) }
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		if testing.Verbose() {
			t.Log(rep.Summary())
		}
		if res, ok := rep.Result("shard-availability"); ok {
			if d, ok := res.Details.(checker.ShardAvailabilityDetails); ok {
				// Figures, not a requirement: printed with -v.
				for _, c := range d.Changes {
					t.Logf("%8s %-40s calm %-5v worst wait: moved %s, others %s", c.Time.Round(time.Millisecond), c.Change, c.Calm,
						c.WorstMoved.Round(time.Millisecond), c.WorstStill.Round(time.Millisecond))
				}
			}
		}
	})
}
