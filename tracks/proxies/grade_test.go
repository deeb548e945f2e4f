package proxies

import (
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
// logs the grader's figures (-v). Under -sweep N it also prints, per stage,
// the mean figures over the seeds: the table in the lesson.
//
//	go test -run TestGradeStagesInProcess -v ./tracks/proxies/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	type sums struct {
		expect        string
		n             int
		retries, dups int
		calls, worst  float64
	}
	agg := map[string]*sums{}
	var order []string
	t.Cleanup(func() {
		if !gradetest.Sweeping() {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n| stage | expect | seeds met | origin calls/op | client retries | duplicate effects | hot-key origin reads (worst) |\n|---|---|---|---|---|---|---|\n")
		for _, name := range order {
			s := agg[name]
			n := float64(s.n)
			fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.0f | %.0f | %.1f%% |\n", name, s.expect, s.n,
				s.calls/n, float64(s.retries)/n, float64(s.dups)/n, 100*s.worst)
		}
		t.Log(b.String())
	})
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := details(t, rep)
		t.Logf("%.2f origin calls per op, %d client retries, %d duplicate effects, hot key %d/%d (%.3f), get p50 %v p99 %v",
			d.OriginCallsPerOp, d.ClientRetries, d.DuplicateEffects, d.HotOriginGets, d.HotClientGets, d.HotRatio,
			d.GetLatency.P50, d.GetLatency.P99)
		s := agg[st.Name]
		if s == nil {
			s = &sums{expect: st.Expect()}
			agg[st.Name] = s
			order = append(order, st.Name)
		}
		s.n++
		s.calls += d.OriginCallsPerOp
		s.retries += d.ClientRetries
		s.dups += d.DuplicateEffects
		s.worst = max(s.worst, d.HotRatio)
	})
}
