package logger

import (
	"flag"
	"strconv"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

var sweep = flag.Int("sweep", 0, "grade every stage (and the no-fsync counter-example) over seeds 1..N in-process and report hit rates")

// TestSeedSweep is the lesson's hit-rate table:
//
//	go test ./tracks/logger/ -run TestSeedSweep -v -sweep=20
func TestSeedSweep(t *testing.T) {
	if *sweep == 0 {
		t.Skip("run with -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := parseStage("no-fsync\tinvalid:kafka\tno\t-w kafka --node-count 1 --time-limit 30 --rate 200 --concurrency 2n --nemesis kill --nemesis-interval 3 -- --sync none")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range append(all, extra) {
		hits := 0
		for seed := 1; seed <= *sweep; seed++ {
			s := st
			s.GraderArgs = append(append([]string(nil), st.GraderArgs...), "--seed", strconv.Itoa(seed))
			rep := gradetest.Grade(t, s, func([]string) program.Program { return node.Program(Configure) })
			if ok, why := gradetest.Verdict(s, rep); ok {
				hits++
			} else {
				t.Logf("stage %s seed %d: %s", st.Name, seed, why)
			}
		}
		t.Logf("stage %-13s %d/%d seeds", st.Name, hits, *sweep)
	}
}
