package queues

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// wantFirst is the violation each counter-example must be rejected for.
var wantFirst = map[string]string{
	"delete-on-receive": "lost message",
	"no-dedup":          "duplicate effect",
}

var allStages = flag.Bool("all-stages", false, "grade every stage, not only the quick set")

// quick are the stages graded by default, one of each kind, so that the
// track's tests stay short; -all-stages grades the rest too, and TestSweep
// grades every stage over many seeds.
var quick = map[string]bool{"kafka-efficient": true, "queue-single": true, "at-least-once": true,
	"delete-on-receive": true, "no-dedup": true}

// TestGradeStagesInProcess grades the stages of stages.tsv in-process
// under virtual time, as `make track-queues` does with the binary, checks
// that each counter-example is rejected for its reason, and logs the
// figures (printed with -v).
func TestGradeStagesInProcess(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			if !*allStages && !quick[st.Name] {
				t.Skip("not in the quick set; give -all-stages")
			}
			rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
			if ok, why := gradetest.Verdict(st, rep); !ok {
				t.Fatalf("stage %s: %s\n%s", st.Name, why, rep.Summary())
			}
			checkStage(t, st, rep)
		})
	}
}

func checkStage(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
	t.Logf("%s: %.2f msgs/op (%.2f between servers)", st.Name, rep.MsgsPerOp, rep.ServerMsgsPerOp)
	res, ok := rep.Result("queue")
	if !ok {
		return
	}
	t.Logf("%s: %s", st.Name, res.Summary)
	if want := wantFirst[st.Name]; want != "" {
		if v := res.First(); v == nil || v.What != want {
			t.Fatalf("stage %s rejected for %v, want %q\n%s", st.Name, v, want, rep.Summary())
		}
		if !strings.Contains(rep.Summary(), "first problem (queue): "+want) {
			t.Fatalf("summary does not name %q first\n%s", want, rep.Summary())
		}
	}
	if st.Name == "at-least-once" || st.Name == "exactly-once" {
		if d := res.Details.(checker.QueueDetails); d.Redeliveries == 0 || d.Crashes == 0 {
			t.Fatalf("no consumer crash or redelivery exercised: %+v", d)
		}
	}
}

var sweep = flag.Int("sweep", 0, "grade every stage over seeds 1..N in-process and log each stage's hit rate")

// TestSweep grades every stage over many seeds (go test -run Sweep
// -sweep 20 -timeout 2h ./tracks/queues/); the lesson quotes its hit rates.
// A hit is the stage's expected verdict, for the expected reason.
func TestSweep(t *testing.T) {
	if *sweep <= 0 {
		t.Skip("give -sweep N")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	hits := map[string]int{}
	var misses []string
	t.Run("seeds", func(t *testing.T) {
		for _, st := range all {
			for seed := 1; seed <= *sweep; seed++ {
				t.Run(fmt.Sprintf("%s/%d", st.Name, seed), func(t *testing.T) {
					t.Parallel()
					s := st
					s.GraderArgs = append(slices.Clone(st.GraderArgs), "--seed", fmt.Sprint(seed))
					rep := gradetest.Grade(t, s, func([]string) program.Program { return node.Program(Configure) })
					ok, why := gradetest.Verdict(s, rep)
					if want := wantFirst[st.Name]; ok && want != "" {
						res, _ := rep.Result("queue")
						if v := res.First(); v == nil || v.What != want {
							ok, why = false, fmt.Sprintf("rejected for %v, want %s", v, want)
						}
					}
					mu.Lock()
					defer mu.Unlock()
					if ok {
						hits[st.Name]++
					} else {
						misses = append(misses, fmt.Sprintf("%s seed %d: %s", st.Name, seed, why))
						t.Logf("%s seed %d: %s\n%s", st.Name, seed, why, rep.Summary())
					}
				})
			}
		}
	})
	for _, st := range all {
		t.Logf("%-18s %d/%d seeds", st.Name, hits[st.Name], *sweep)
	}
	for _, m := range misses {
		t.Log("miss: " + m)
	}
}
