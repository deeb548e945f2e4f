package queues

import (
	"flag"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// wantFirst is the violation each counter-example must be rejected for.
var wantFirst = map[string]string{
	"delete-on-receive": "lost message",
	"no-dedup":          "duplicate effect",
}

var allStages = flag.Bool("all-stages", false, "grade every stage, not only the quick set")

// quick are the stages graded by default, one of each kind, so that the
// track's tests stay short; -all-stages grades the rest too, and TestSweep
// grades every stage over many seeds.
var quick = map[string]bool{"kafka-efficient": true, "queue-single": true, "at-least-once": true,
	"delete-on-receive": true, "no-dedup": true}

// TestGradeStagesInProcess grades the stages of stages.tsv in-process
// under virtual time, as `make track-queues` does with the binary, checks
// that each counter-example is rejected for its reason, and logs the
// figures (printed with -v). By default only the quick set; -all-stages or
// a sweep (-sweep N, the lesson's hit rates) grades every stage.
func TestGradeStagesInProcess(t *testing.T) {
	skip := func(st stages.Stage) string {
		if *allStages || quick[st.Name] {
			return ""
		}
		return "not in the quick set; give -all-stages"
	}
	gradetest.RunStagesSkippingThen(t, "stages.tsv", func([]string) program.Program { return node.Program(Configure) }, skip, checkStage)
}

func checkStage(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
	t.Logf("%s: %.2f msgs/op (%.2f between servers)", st.Name, rep.MsgsPerOp, rep.ServerMsgsPerOp)
	res, ok := rep.Result("queue")
	if !ok {
		return
	}
	t.Logf("%s: %s", st.Name, res.Summary)
	if want := wantFirst[st.Name]; want != "" {
		if v := res.First(); v == nil || v.What != want {
			t.Fatalf("stage %s rejected for %v, want %q\n%s", st.Name, v, want, rep.Summary())
		}
		if !strings.Contains(rep.Summary(), "first problem (queue): "+want) {
			t.Fatalf("summary does not name %q first\n%s", want, rep.Summary())
		}
	}
	if st.Name == "at-least-once" || st.Name == "exactly-once" {
		if d := res.Details.(checker.QueueDetails); d.Redeliveries == 0 || d.Crashes == 0 {
			t.Fatalf("no consumer crash or redelivery exercised: %+v", d)
		}
	}
}
