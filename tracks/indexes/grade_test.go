package indexes

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func program_([]string) program.Program { return node.Program(Configure) }

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-indexes` does with the binary, and
// logs the figures the lesson quotes (with -v).
func TestGradeStagesInProcess(t *testing.T) {
	gradetest.RunStagesThen(t, "stages.tsv", program_, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if res, ok := rep.Result("index-kv"); ok {
			t.Logf("%s: %s", st.Name, res.Summary)
		}
		if st.Name == "global-index" || st.Name == "global-async" || st.Name == "local-index" {
			for _, f := range []string{"put", "query"} {
				q := rep.Latencies[f]
				t.Logf("%s: %s %+v, latency p50 %v p99 %v; %.2f messages per op between servers", st.Name, f, rep.ByF[f], q.P50, q.P99, rep.ServerMsgsPerOp)
			}
		}
	})
}

// TestSeedSweep grades every stage over many seeds, for the hit rates the
// lesson quotes: INDEXES_SWEEP=20 go test -run TestSeedSweep -v ./tracks/indexes/
func TestSeedSweep(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("INDEXES_SWEEP"))
	if n <= 0 {
		t.Skip("set INDEXES_SWEEP to the number of seeds")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		hits := 0
		for seed := 1; seed <= n; seed++ {
			s := st
			s.GraderArgs = append(slices.Clone(st.GraderArgs), "--seed", strconv.Itoa(seed))
			rep := gradetest.Grade(t, s, program_)
			if ok, why := gradetest.Verdict(s, rep); ok {
				hits++
			} else {
				t.Errorf("stage %s seed %d: %s", st.Name, seed, why)
			}
		}
		t.Logf("%-16s %d/%d seeds", st.Name, hits, n)
	}
}

// noSyncStage is the counter-example that only the in-process grader can
// show: the hash index never fsyncs, and the simulated disk of an
// in-process node loses every unsynced write when the node is killed. (A
// killed process keeps the OS page cache, so in process mode, as under
// `make track-indexes`, nothing is lost and the stage would pass: it is
// not in stages.tsv.)
var noSyncStage = stages.Stage{Name: "hash-no-sync", InvalidBy: []string{"linearizable", "index-kv"},
	GraderArgs: strings.Fields("-w index-kv --node-count 1 --time-limit 30 --rate 100 --concurrency 4 --nemesis kill --nemesis-interval 3"),
	NodeArgs:   []string{"--engine", "hash", "--no-sync"}}

func TestNoSyncLosesWritesInProcess(t *testing.T) {
	rep := gradetest.Grade(t, noSyncStage, program_)
	if ok, why := gradetest.Verdict(noSyncStage, rep); !ok {
		t.Fatalf("%s\n%s", why, rep.Summary())
	}
	// The same engine with fsync survives the same kills.
	synced := noSyncStage
	synced.ExpectPass, synced.NodeArgs = true, []string{"--engine", "hash"}
	if rep := gradetest.Grade(t, synced, program_); rep.Valid != "valid" {
		t.Fatalf("with fsync: %s", rep.Summary())
	}
}
