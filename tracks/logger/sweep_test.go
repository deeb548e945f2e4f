package logger

import (
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// TestNoFsyncSweep sweeps the no-fsync counter-example, which is a test
// rather than a stage (a killed process keeps its page cache, so only the
// simulated disk can reject it), over the seeds of -sweep N; the stages of
// stages.tsv are swept by TestGradeStagesInProcess:
//
//	go test ./tracks/logger/ -v -args -sweep 20
func TestNoFsyncSweep(t *testing.T) {
	if !gradetest.Sweeping() {
		t.Skip("run with -args -sweep N")
	}
	st, err := parseStage("no-fsync\tinvalid:kafka\tno\t-w kafka --node-count 1 --time-limit 30 --rate 200 --concurrency 2n --nemesis kill --nemesis-interval 2 -- --sync none")
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := gradetest.Seeds(st)
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for _, seed := range seeds {
		s := st
		s.GraderArgs = append(append([]string(nil), st.GraderArgs...), "--seed", strconv.FormatUint(seed, 10))
		rep := gradetest.Grade(t, s, func([]string) program.Program { return node.Program(Configure) })
		if ok, why := gradetest.Verdict(s, rep); ok {
			hits++
		} else {
			t.Errorf("seed %d: %s", seed, why)
		}
	}
	t.Logf("no-fsync: rejected on %d/%d seeds", hits, len(seeds))
}
