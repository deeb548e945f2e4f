package mapreducer

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// wantFirst is the violation each counter-example must be rejected for.
var wantFirst = map[string]string{"processing-time": "wrong window", "at-least-once": "wrong window"}

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-mapreducer` does with the binary,
// checks that each counter-example is rejected for its reason, and logs
// the figures (printed with -v); -sweep N gives the lesson's hit rates.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", func([]string) program.Program { return node.Program(Configure) }, checkStage)
}

func checkStage(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
	for _, name := range []string{"mapreduce", "stream"} {
		res, ok := rep.Result(name)
		if !ok {
			continue
		}
		t.Logf("%s: %s", st.Name, res.Summary)
		if want := wantFirst[st.Name]; want != "" {
			if v := res.First(); v == nil || v.What != want {
				t.Fatalf("stage %s rejected for %v, want %q\n%s", st.Name, v, want, rep.Summary())
			}
			if !strings.Contains(rep.Summary(), "first problem ("+name+"): "+want) {
				t.Fatalf("summary does not name %q first\n%s", want, rep.Summary())
			}
		}
	}
}
