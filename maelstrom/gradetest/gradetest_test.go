package gradetest

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func nodes(args []string) program.Program {
	switch args[0] {
	case "broadcast":
		return testnodes.Broadcast(false, false)
	case "lossy":
		return testnodes.Broadcast(true, false)
	}
	return testnodes.Echo(false)
}

func TestRunStages(t *testing.T) {
	RunStages(t, "testdata/stages.tsv", nodes)
}

// A counter-example rejected for the wrong reason must not pass.
func TestVerdictWantsTheRightChecker(t *testing.T) {
	lossy := Stage(t, "testdata/stages.tsv", "lossy")
	rep := Grade(t, lossy, nodes)
	if ok, why := Verdict(lossy, rep); !ok {
		t.Fatalf("lossy stage: %s", why)
	}
	lossy.InvalidBy = []string{"counter"}
	ok, why := Verdict(lossy, rep)
	if ok || !strings.Contains(why, "invalid by set-full") {
		t.Fatalf("Verdict = %v, %q; want a mismatch naming set-full", ok, why)
	}
	echo := Stage(t, "testdata/stages.tsv", "echo")
	echo.ExpectPass = false
	if ok, why := Verdict(echo, Grade(t, echo, nodes)); ok || !strings.Contains(why, "got valid") {
		t.Fatalf("Verdict = %v, %q; want a mismatch for a valid run", ok, why)
	}
}

// RunStagesThen hands on the report of every stage that met its
// expectation, and only those.
func TestRunStagesThen(t *testing.T) {
	var seen []string
	RunStagesThen(t, "testdata/stages.tsv", nodes, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if ok, why := Verdict(st, rep); !ok {
			t.Errorf("stage %s handed on without meeting its expectation: %s", st.Name, why)
		}
		seen = append(seen, st.Name)
	})
	all, err := stages.Load("testdata/stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(all) {
		t.Fatalf("handed on %v, want all %d stages", seen, len(all))
	}
}

func TestGradeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "testnode")
	if out, err := exec.Command("go", "build", "-o", bin, "../internal/testnodes/testnode").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	GradeBinary(t, "testdata/stages.tsv", bin)
}

// -sweep N grades a stage with N seeds from -sweep-from on, except a stage
// that fixes its own --seed, which keeps it.
func TestSweepSeeds(t *testing.T) {
	defer func(n int, from uint64) { *sweepN, *sweepFrom = n, from }(*sweepN, *sweepFrom)
	echo := Stage(t, "testdata/stages.tsv", "echo")
	fixed := echo
	fixed.GraderArgs = append(slices.Clone(echo.GraderArgs), "--seed", "5")
	*sweepN, *sweepFrom = 0, Seed
	if got, _ := Seeds(echo); !slices.Equal(got, []uint64{Seed}) {
		t.Errorf("no sweep: seeds %v, want [%d]", got, Seed)
	}
	*sweepN, *sweepFrom = 3, 100
	if got, _ := Seeds(echo); !slices.Equal(got, []uint64{100, 101, 102}) {
		t.Errorf("sweep 3 from 100: seeds %v", got)
	}
	if got, _ := Seeds(fixed); !slices.Equal(got, []uint64{5}) {
		t.Errorf("fixed seed under a sweep: seeds %v, want [5]", got)
	}
	if got := withSeed([]string{"-w", "echo", "--seed", "5", "--rate", "1"}, 7); !slices.Equal(got, []string{"-w", "echo", "--rate", "1", "--seed", "7"}) {
		t.Errorf("withSeed = %v", got)
	}
}

func TestSweepTableMeansAndWorst(t *testing.T) {
	tab := &SweepTable{cols: []Column{{Name: "mean", Format: "%.1f"}, {Name: "worst", Format: "%.0f", Max: true}},
		rows: map[string]*sweepRow{}}
	st := stages.Stage{Name: "a"}
	tab.Add(st, 1, 10)
	tab.Add(st, 2, 30)
	tab.Add(st, 6, 20)
	got := tab.String()
	if !strings.Contains(got, "| a | "+st.Expect()+" | 3 | 3.0 | 30 |") {
		t.Fatalf("table:\n%s", got)
	}
}
