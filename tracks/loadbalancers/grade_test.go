package loadbalancers

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func prog([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-loadbalancers` does with the binary,
// and logs the grader's figures (-v). Under -sweep N it also prints, per
// stage, the mean figures over the seeds: the table in the lesson.
//
//	go test -run TestGradeStagesInProcess -v ./tracks/loadbalancers/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	table := gradetest.NewSweepTable(t,
		gradetest.Column{Name: "unanswered (mean)", Format: "%.1f"},
		gradetest.Column{Name: "late requests (mean)", Format: "%.1f"},
		gradetest.Column{Name: "p99 ms (mean)", Format: "%.0f"},
		gradetest.Column{Name: "load CV (mean)", Format: "%.2f"},
	)
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := gradetest.Details[checker.LBDetails](t, rep, "lb")
		t.Logf("%d requests, %d unanswered, %d late to dead backends, p50 %v p99 %v, load %v (CV %.2f)",
			d.Requests, d.Unanswered, d.LateRequests, d.Latency.P50, d.Latency.P99, d.PerBackend, d.LoadCV)
		table.Add(st, float64(d.Unanswered), float64(d.LateRequests), float64(d.Latency.P99.Milliseconds()), d.LoadCV)
	})
}
