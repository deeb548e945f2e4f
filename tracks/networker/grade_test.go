package networker

import (
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
// It takes -sweep N like the other tracks' grading tests.
func TestGradeStagesAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/networker and grades it for several seconds")
	}
	bin := filepath.Join(t.TempDir(), "networker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/networker").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	gradetest.RunStagesAsProcesses(t, "stages.tsv", bin, func(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
		if res, _ := rep.Result("net-rpc"); st.ExpectPass && res.Valid != checker.Valid {
			t.Fatalf("net-rpc checker: %s", res.Summary)
		}
	})
}
