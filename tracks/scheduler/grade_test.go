package scheduler

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-scheduler` does with the binary, and
// logs the jobs figures (printed with -v). To keep `go test` short, the
// default run leaves out partitions, kill and no-fencing (pause shows the
// fencing); a sweep grades every stage:
//
//	go test -run TestGradeStagesInProcess -v -timeout 60m ./tracks/scheduler/ -args -sweep 10
func TestGradeStagesInProcess(t *testing.T) {
	skip := func(st stages.Stage) string {
		switch st.Name {
		case "partitions", "kill", "no-fencing":
			return "a long five-node stage: graded by make track-scheduler and by -sweep"
		}
		return ""
	}
	gradetest.RunStagesSkippingThen(t, "stages.tsv", prog, skip, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		okOps := 0
		for _, c := range rep.ByF {
			okOps += c.OK
		}
		t.Logf("ok ops/s: %.1f", float64(okOps)/rep.Options.TimeLimit.Seconds())
		for _, name := range []string{"jobs", "net"} {
			if res, ok := rep.Result(name); ok {
				t.Logf("%s: %s", name, res.Summary)
			}
		}
	})
}
