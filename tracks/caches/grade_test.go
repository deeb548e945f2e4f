package caches

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

func details(t testing.TB, rep *maelstrom.Report) checker.CacheDetails {
	t.Helper()
	res, ok := rep.Result("cache")
	if !ok {
		t.Fatalf("no cache result\n%s", rep.Summary())
	}
	return res.Details.(checker.CacheDetails)
}

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-caches` does with the binary, and logs
// the grader's figures (-v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := details(t, rep)
		t.Logf("hit ratio %.3f, %.3f backend calls per op, read p50 %v p99 %v, %d stale reads (max %v), max in-flight store reads of one key %d",
			d.HitRatio, d.BackendCallsPerOp, d.ReadLatency.P50, d.ReadLatency.P99, d.StaleReads, d.MaxStaleness, d.MaxInFlightReads)
		if st.ExpectPass && d.HitRatio < 0.3 {
			t.Errorf("hit ratio %.3f: the cache hardly caches", d.HitRatio)
		}
	})
}

var sweep = flag.Int("sweep", 0, "grade every stage over this many seeds and print the hit rates (TestSweep)")

// TestSweep grades every stage over seeds 1..N and prints, per stage, on
// how many seeds it met its expectation and the mean hit ratio: the table
// in the lesson.
//
//	go test -run TestSweep -v ./tracks/caches/ -sweep=20
func TestSweep(t *testing.T) {
	if *sweep == 0 {
		t.Skip("run with -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| stage | expect | seeds passed | hit ratio (mean) | backend calls/op | read p99 (worst) |\n|---|---|---|---|---|---|\n")
	for _, st := range all {
		passed := 0
		hit, calls := 0.0, 0.0
		var worst float64
		for seed := 1; seed <= *sweep; seed++ {
			s := st
			s.GraderArgs = append(append([]string(nil), st.GraderArgs...), "--seed", fmt.Sprint(seed))
			rep, err := gradetest.GradeOutsideTest(s, prog(nil))
			if err != nil {
				t.Fatalf("%s seed %d: %v", st.Name, seed, err)
			}
			if ok, why := gradetest.Verdict(st, rep); ok {
				passed++
			} else {
				t.Errorf("%s seed %d: %s", st.Name, seed, why)
			}
			d := details(t, rep)
			hit += d.HitRatio
			calls += d.BackendCallsPerOp
			worst = max(worst, float64(d.ReadLatency.P99.Milliseconds()))
		}
		n := float64(*sweep)
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %.3f | %.3f | %.0f ms |\n", st.Name, st.Expect(), passed, *sweep, hit/n, calls/n, worst)
	}
	t.Log(b.String())
}
