package messenger

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv with the
// grader, in-process under virtual time, as `make track-messenger` does
// with the binary.
func TestGradeStagesInProcess(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		t.Run(s.Name, func(t *testing.T) {
			rep := grade(t, s.GraderArgs, s.NodeArgs)
			want := checker.Invalid
			if s.ExpectPass {
				want = checker.Valid
			}
			if rep.Valid != want {
				t.Fatalf("grader says %s, want %s\n%s", rep.Valid, want, rep.Summary())
			}
		})
	}
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

func grade(t *testing.T, graderArgs, nodeArgs []string) *maelstrom.Report {
	t.Helper()
	opts, err := maelstrom.ParseArgs(graderArgs)
	if err != nil {
		t.Fatalf("grader arguments %q: %v", graderArgs, err)
	}
	opts.StoreDir = ""
	var rep *maelstrom.Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: node.Program(Configure), Args: nodeArgs})
	})
	if err != nil {
		t.Fatalf("grader: %v", err)
	}
	return rep
}
