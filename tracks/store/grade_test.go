package store

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-store` does with the binary, and logs
// how available the majority side stayed while partitions were active.
func TestGradeStagesInProcess(t *testing.T) {
	prog := func([]string) program.Program { return node.Program(Configure) }
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		if res, ok := rep.Result("availability"); ok {
			// Figures, not a requirement: printed with -v.
			if d, ok := res.Details.(checker.AvailabilityDetails); ok && d.MajoritySide.Count > 0 {
				t.Logf("during partitions: majority side %s, minority side %s; outside partitions %s",
					d.MajoritySide, d.MinoritySide, d.OutsidePartitions)
			}
		}
	})
}
