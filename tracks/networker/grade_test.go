package networker

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesAsProcesses grades every stage of stages.tsv with the
// grader against the real binary, as `make track-networker` does: the
// net-rpc workload needs real sockets, so there is no in-process grading.
func TestGradeStagesAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/networker and grades it for several seconds")
	}
	bin := filepath.Join(t.TempDir(), "networker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/networker").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		t.Run(s.Name, func(t *testing.T) {
			opts, err := maelstrom.ParseArgs(s.GraderArgs)
			if err != nil {
				t.Fatal(err)
			}
			opts.StoreDir = ""
			if !opts.SeedSet {
				opts.Seed = gradetest.Seed
			}
			rep, err := maelstrom.Run(context.Background(), opts, maelstrom.Binary{Path: bin, Args: s.NodeArgs})
			if err != nil {
				t.Fatal(err)
			}
			if ok, why := gradetest.Verdict(s, rep); !ok {
				t.Fatalf("stage %s: %s\n%s", s.Name, why, rep.Summary())
			}
			if res, _ := rep.Result("net-rpc"); s.ExpectPass && res.Valid != checker.Valid {
				t.Fatalf("net-rpc checker: %s", res.Summary)
			}
		})
	}
}
