package proxies

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
// under virtual time, as `make track-proxies` does with the binary, and
// logs the grader's figures (-v). Under -sweep N it also prints, per stage,
// the mean figures over the seeds: the table in the lesson.
//
//	go test -run TestGradeStagesInProcess -v ./tracks/proxies/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	table := gradetest.NewSweepTable(t,
		gradetest.Column{Name: "origin calls/op", Format: "%.2f"},
		gradetest.Column{Name: "client retries", Format: "%.0f"},
		gradetest.Column{Name: "duplicate effects", Format: "%.0f"},
		gradetest.Column{Name: "hot-key origin reads % (worst)", Format: "%.1f", Max: true},
	)
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := gradetest.Details[checker.ProxyDetails](t, rep, "proxy")
		t.Logf("%.2f origin calls per op, %d client retries, %d duplicate effects, hot key %d/%d (%.3f), get p50 %v p99 %v",
			d.OriginCallsPerOp, d.ClientRetries, d.DuplicateEffects, d.HotOriginGets, d.HotClientGets, d.HotRatio,
			d.GetLatency.P50, d.GetLatency.P99)
		table.Add(st, d.OriginCallsPerOp, float64(d.ClientRetries), float64(d.DuplicateEffects), 100*d.HotRatio)
	})
}
