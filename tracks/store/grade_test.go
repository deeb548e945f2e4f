package store

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-store` does with the binary, and logs
// how available the majority side stayed while partitions were active.
func TestGradeStagesInProcess(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
			if ok, why := gradetest.Verdict(st, rep); !ok {
				t.Fatalf("stage %s: %s\n%s", st.Name, why, rep.Summary())
			}
			if res, ok := rep.Result("availability"); ok {
				// Figures, not a requirement: printed with -v.
				if d, ok := res.Details.(checker.AvailabilityDetails); ok && d.MajoritySide.Count > 0 {
					t.Logf("during partitions: majority side %s, minority side %s; outside partitions %s",
						d.MajoritySide, d.MinoritySide, d.OutsidePartitions)
				}
			}
		})
	}
}
