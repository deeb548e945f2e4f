package queues

import (
	"strings"
	"testing"
	"time"

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

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-queues` does with the binary, checks
// that each counter-example is rejected for its reason, and logs the
// figures (printed with -v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", func([]string) program.Program { return node.Program(Configure) },
		func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
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
		})
}

func TestDebugStage(t *testing.T) {
	st := gradetest.Stage(t, "stages.tsv", "queue-single")
	rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
	t.Log(rep.Summary())
	first := map[int64]time.Duration{}
	sent := map[int64]checker.QueueSend{}
	for _, op := range rep.History {
		if s, ok := op.Value.(checker.QueueSend); ok && op.Type == "invoke" {
			if _, ok := first[s.Msg]; !ok {
				first[s.Msg] = op.Time
				sent[s.Msg] = s
			}
		}
		if r, ok := op.Value.(checker.QueueReceive); ok && op.Type == "ok" {
			for _, d := range r.Msgs {
				if f, ok := first[d.Msg]; ok && op.Time-f > 5*time.Second {
					t.Logf("slow: %+v sent %v delivered %v final %v", sent[d.Msg], f, op.Time, op.Final)
					delete(first, d.Msg)
				}
			}
		}
	}
}
