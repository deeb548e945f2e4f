package caches

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
// under virtual time, as `make track-caches` does with the binary, and logs
// the grader's figures (-v). Under -sweep N it also prints, per stage, the
// mean figures over the seeds: the table in the lesson.
//
//	go test -run TestGradeStagesInProcess -v ./tracks/caches/ -args -sweep 20
func TestGradeStagesInProcess(t *testing.T) {
	table := gradetest.NewSweepTable(t,
		gradetest.Column{Name: "hit ratio (mean)", Format: "%.3f"},
		gradetest.Column{Name: "backend calls/op", Format: "%.3f"},
		gradetest.Column{Name: "read p99 ms (worst)", Format: "%.0f", Max: true},
	)
	gradetest.RunStagesThen(t, "stages.tsv", prog, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		d := gradetest.Details[checker.CacheDetails](t, rep, "cache")
		t.Logf("hit ratio %.3f, %.3f backend calls per op, read p50 %v p99 %v, %d stale reads (max %v), max in-flight store reads of one key %d",
			d.HitRatio, d.BackendCallsPerOp, d.ReadLatency.P50, d.ReadLatency.P99, d.StaleReads, d.MaxStaleness, d.MaxInFlightReads)
		if st.ExpectPass && d.HitRatio < 0.3 {
			t.Errorf("hit ratio %.3f: the cache hardly caches", d.HitRatio)
		}
		table.Add(st, d.HitRatio, d.BackendCallsPerOp, float64(d.ReadLatency.P99.Milliseconds()))
	})
}
