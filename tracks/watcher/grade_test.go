package watcher

import (
	"flag"
	"slices"
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-watcher` does with the binary, and
// logs the watch and ephemeral figures (printed with -v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		okOps := 0
		for _, c := range rep.ByF {
			okOps += c.OK
		}
		t.Logf("ok ops/s: %.1f", float64(okOps)/rep.Options.TimeLimit.Seconds())
		for _, name := range []string{"watch", "ephemeral", "fencing"} {
			if res, ok := rep.Result(name); ok {
				t.Logf("%s: %s", name, res.Summary)
			}
		}
	})
}

// sweep grades every stage over seeds 1..N:
//
//	go test -run TestSweep -v -timeout 60m ./tracks/watcher/ -args -sweep 20
var sweep = flag.Int("sweep", 0, "grade every stage over seeds 1..N and report hit rates")

func TestSweep(t *testing.T) {
	if *sweep == 0 {
		t.Skip("run with -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			hits := 0
			for seed := 1; seed <= *sweep; seed++ {
				s := st
				s.GraderArgs = append(slices.Clone(st.GraderArgs), "--seed", strconv.Itoa(seed))
				rep := gradetest.Grade(t, s, prog)
				if ok, why := gradetest.Verdict(s, rep); ok {
					hits++
				} else {
					t.Errorf("stage %s seed %d: %s\n%s", st.Name, seed, why, rep.Summary())
				}
			}
			t.Logf("stage %s: %d/%d seeds", st.Name, hits, *sweep)
		})
	}
}
