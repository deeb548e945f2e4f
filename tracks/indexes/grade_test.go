package indexes

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func program_([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-indexes` does with the binary, and
// logs the figures the lesson quotes (with -v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", program_, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if res, ok := rep.Result("index-kv"); ok {
			t.Logf("%s: %s", st.Name, res.Summary)
		}
		if st.Name == "global-index" || st.Name == "global-async" || st.Name == "local-index" {
			for _, f := range []string{"put", "query"} {
				if c, ok := rep.ByF[f]; ok {
					t.Logf("%s: %s %+v", st.Name, f, c)
				}
			}
		}
	})
}

// TestSeedSweep grades every stage over many seeds, for the hit rates the
// lesson quotes: INDEXES_SWEEP=20 go test -run TestSeedSweep -v ./tracks/indexes/
func TestSeedSweep(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("INDEXES_SWEEP"))
	if n <= 0 {
		t.Skip("set INDEXES_SWEEP to the number of seeds")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		hits := 0
		for seed := 1; seed <= n; seed++ {
			s := st
			s.GraderArgs = append(slices.Clone(st.GraderArgs), "--seed", strconv.Itoa(seed))
			rep := gradetest.Grade(t, s, program_)
			if ok, why := gradetest.Verdict(s, rep); ok {
				hits++
			} else {
				t.Errorf("stage %s seed %d: %s", st.Name, seed, why)
			}
		}
		t.Logf("%-16s %d/%d seeds", st.Name, hits, n)
	}
}
