package gradetest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
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
	all, err := stages.Load("testdata/stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	lossy, _ := stages.Find(all, "lossy")
	rep := Grade(t, lossy, nodes)
	if ok, why := Verdict(lossy, rep); !ok {
		t.Fatalf("lossy stage: %s", why)
	}
	lossy.InvalidBy = []string{"counter"}
	ok, why := Verdict(lossy, rep)
	if ok || !strings.Contains(why, "invalid by set-full") {
		t.Fatalf("Verdict = %v, %q; want a mismatch naming set-full", ok, why)
	}
	echo, _ := stages.Find(all, "echo")
	echo.ExpectPass = false
	if ok, why := Verdict(echo, Grade(t, echo, nodes)); ok || !strings.Contains(why, "got valid") {
		t.Fatalf("Verdict = %v, %q; want a mismatch for a valid run", ok, why)
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
