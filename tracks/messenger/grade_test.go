package messenger

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-messenger` does
// with the binary, and logs what the checkers found: the lesson's
// figures.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		for _, res := range rep.Results {
			t.Logf("%s %s: %s", res.Checker, res.Valid, res.Summary)
		}
	})
}

// The init stage's node does not answer echo: under load the grader must
// reject it, or the stages above would prove nothing.
func TestGraderRejectsInitStageUnderEchoLoad(t *testing.T) {
	rep := grade(t, []string{"-w", "echo", "--node-count", "1", "--time-limit", "5"}, []string{"--stage", "init"})
	if rep.Valid != checker.Invalid {
		t.Fatalf("grader says %s for a node without echo, want invalid\n%s", rep.Valid, rep.Summary())
	}
}

// The echo stage's node answers unknown types with error 10 (the runtime
// does) but echoes a request without its echo field as null: the errors
// stage's grader must reject it, and for that reason.
func TestGraderRejectsEchoStageUnderErrorsWorkload(t *testing.T) {
	rep := grade(t, []string{"-w", "errors", "--node-count", "1", "--time-limit", "10", "--rate", "20"}, []string{"--stage", "echo"})
	res, _ := rep.Result("protocol-errors")
	if rep.Valid != checker.Invalid || res.Valid != checker.Invalid || res.First().What != "malformed request accepted" {
		t.Fatalf("grader says %s (protocol-errors %s), want invalid for an accepted malformed request\n%s", rep.Valid, res.Valid, rep.Summary())
	}
}

// grade runs the node under grader arguments that no stage lists.
func grade(t *testing.T, graderArgs, nodeArgs []string) *maelstrom.Report {
	t.Helper()
	return gradetest.Grade(t, stages.Stage{Name: "ad hoc", GraderArgs: graderArgs, NodeArgs: nodeArgs}, prog)
}
