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
var wantFirst = map[string]string{"processing-time": "wrong window", "at-least-once": "wrong window", "forgetful": "lost job"}

// wantDetail is what the first violation of a counter-example must say.
var wantDetail = map[string]string{"at-least-once": "counts too high"}

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-mapreducer` does with the binary,
// checks that each counter-example is rejected for its reason, and logs
// the figures (printed with -v); -sweep N gives the lesson's hit rates.
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", func([]string) program.Program {
		counters = &Counters{}
		return node.Program(ConfigureCounting(counters))
	}, checkStage)
}

// counters is the coordinator's count of the stage being graded (stages
// are graded one at a time).
var counters *Counters

// wantCounted says which fault handling each stage must exercise.
var wantCounted = map[string]func(c *Counters) int64{
	"kill":       func(c *Counters) int64 { return c.Reexecuted.Load() + c.LostMaps.Load() },
	"stragglers": func(c *Counters) int64 { return c.Backups.Load() },
	"restart":    func(c *Counters) int64 { return c.Recovered.Load() },
}

func checkStage(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
	if res, ok := rep.Result("mapreduce"); ok && res.Valid == "valid" && counters != nil {
		c := counters
		t.Logf("%s: coordinator: %d re-executed after a lease, %d maps re-run for lost output, %d backup attempts, %d jobs recovered from the log",
			st.Name, c.Reexecuted.Load(), c.LostMaps.Load(), c.Backups.Load(), c.Recovered.Load())
		if f := wantCounted[st.Name]; f != nil && f(c) == 0 {
			t.Fatalf("stage %s exercised none of the fault handling it is about", st.Name)
		}
	}
	for _, name := range []string{"mapreduce", "stream"} {
		res, ok := rep.Result(name)
		if !ok {
			continue
		}
		t.Logf("%s: %s", st.Name, res.Summary)
		if want := wantFirst[st.Name]; want != "" {
			if v := res.First(); v == nil || v.What != want || !strings.Contains(v.Detail, wantDetail[st.Name]) {
				t.Fatalf("stage %s rejected for %v, want %q (%q)\n%s", st.Name, v, want, wantDetail[st.Name], rep.Summary())
			}
			if !strings.Contains(rep.Summary(), "first problem ("+name+"): "+want) {
				t.Fatalf("summary does not name %q first\n%s", want, rep.Summary())
			}
		}
	}
}
