package loadbalancers

import (
	"flag"
	"fmt"
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

func prog([]string) program.Program { return node.Program(Configure) }

func details(t testing.TB, rep *maelstrom.Report) checker.LBDetails {
	t.Helper()
	res, ok := rep.Result("lb")
	if !ok {
		t.Fatalf("no lb result\n%s", rep.Summary())
	}
	return res.Details.(checker.LBDetails)
}

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-loadbalancers` does with the binary, and
// logs the grader's figures (-v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := details(t, rep)
		t.Logf("%d requests, %d unanswered, %d late to dead backends, p50 %v p99 %v, load %v (CV %.2f)",
			d.Requests, d.Unanswered, d.LateRequests, d.Latency.P50, d.Latency.P99, d.PerBackend, d.LoadCV)
	})
}

var sweep = flag.Int("sweep", 0, "grade every stage over this many seeds (TestSweep)")

// TestSweep grades every stage over seeds 1..N: the table in the lesson.
//
//	go test -run TestSweep -v ./tracks/loadbalancers/ -sweep=20
func TestSweep(t *testing.T) {
	if *sweep == 0 {
		t.Skip("run with -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| stage | expect | seeds passed | unanswered (mean) | late requests (mean) | p99 (mean) | load CV (mean) |\n|---|---|---|---|---|---|---|\n")
	for _, st := range all {
		passed := 0
		var unans, late, cv float64
		var p99 time.Duration
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
			unans += float64(d.Unanswered)
			late += float64(d.LateRequests)
			cv += d.LoadCV
			p99 += d.Latency.P99
		}
		n := float64(*sweep)
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %.1f | %.1f | %v | %.2f |\n", st.Name, st.Expect(), passed, *sweep,
			unans/n, late/n, (p99 / time.Duration(*sweep)).Round(time.Millisecond), cv/n)
	}
	t.Log(b.String())
}
