package proxies

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

func details(t testing.TB, rep *maelstrom.Report) checker.ProxyDetails {
	t.Helper()
	res, ok := rep.Result("proxy")
	if !ok {
		t.Fatalf("no proxy result\n%s", rep.Summary())
	}
	return res.Details.(checker.ProxyDetails)
}

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-proxies` does with the binary, and
// logs the grader's figures (-v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := details(t, rep)
		t.Logf("%.2f origin calls per op, %d client retries, %d duplicate effects, hot key %d/%d (%.3f), get p50 %v p99 %v",
			d.OriginCallsPerOp, d.ClientRetries, d.DuplicateEffects, d.HotOriginGets, d.HotClientGets, d.HotRatio,
			d.GetLatency.P50, d.GetLatency.P99)
	})
}

var sweep = flag.Int("sweep", 0, "grade every stage over this many seeds (TestSweep)")

// TestSweep grades every stage over seeds 1..N: the table in the lesson.
//
//	go test -run TestSweep -v ./tracks/proxies/ -sweep=20
func TestSweep(t *testing.T) {
	if *sweep == 0 {
		t.Skip("run with -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| stage | expect | seeds passed | origin calls/op | client retries | duplicate effects | hot-key origin reads (worst) |\n|---|---|---|---|---|---|---|\n")
	for _, st := range all {
		passed, retries, dups := 0, 0, 0
		calls, worst := 0.0, 0.0
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
			calls += d.OriginCallsPerOp
			retries += d.ClientRetries
			dups += d.DuplicateEffects
			worst = max(worst, d.HotRatio)
		}
		n := float64(*sweep)
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %.2f | %.0f | %.0f | %.1f%% |\n", st.Name, st.Expect(), passed, *sweep,
			calls/n, float64(retries)/n, float64(dups)/n, 100*worst)
	}
	t.Log(b.String())
}
