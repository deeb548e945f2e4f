package loadbalancers

import (
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
// under virtual time, as `make track-loadbalancers` does with the binary,
// and logs the grader's figures (-v). Under -sweep N it also prints, per
// stage, the mean figures over the seeds: the table in the lesson.
//
//	go test -run TestGradeStagesInProcess -v ./tracks/loadbalancers/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	type sums struct {
		expect          string
		n               int
		unans, late, cv float64
		p99             time.Duration
	}
	agg := map[string]*sums{}
	var order []string
	t.Cleanup(func() {
		if !gradetest.Sweeping() {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n| stage | expect | seeds met | unanswered (mean) | late requests (mean) | p99 (mean) | load CV (mean) |\n|---|---|---|---|---|---|---|\n")
		for _, name := range order {
			s := agg[name]
			n := float64(s.n)
			fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %.1f | %v | %.2f |\n", name, s.expect, s.n,
				s.unans/n, s.late/n, (s.p99 / time.Duration(s.n)).Round(time.Millisecond), s.cv/n)
		}
		t.Log(b.String())
	})
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := details(t, rep)
		t.Logf("%d requests, %d unanswered, %d late to dead backends, p50 %v p99 %v, load %v (CV %.2f)",
			d.Requests, d.Unanswered, d.LateRequests, d.Latency.P50, d.Latency.P99, d.PerBackend, d.LoadCV)
		s := agg[st.Name]
		if s == nil {
			s = &sums{expect: st.Expect()}
			agg[st.Name] = s
			order = append(order, st.Name)
		}
		s.n++
		s.unans += float64(d.Unanswered)
		s.late += float64(d.LateRequests)
		s.cv += d.LoadCV
		s.p99 += d.Latency.P99
	})
}
