package maelstrom

import (
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// One node cannot be cut off from anyone: every partition has no effect,
// so a stage that needs a partition must not pass.
func TestExerciseUnknownWhenTheFaultNeverTookEffect(t *testing.T) {
	rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "1", "--time-limit", "6",
		"--nemesis", "partition", "--nemesis-interval", "1", "--exercise", "partition")
	wantVerdict(t, rep, checker.Unknown, "exercise", "never did")
}

func TestExerciseCountsWhatTookEffect(t *testing.T) {
	rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "3", "--time-limit", "6",
		"--nemesis", "partition", "--nemesis-interval", "1", "--exercise", "partition")
	wantVerdict(t, rep, checker.Valid, "exercised partition ×")
}

func TestExerciseNeedsAMatchingNemesis(t *testing.T) {
	if _, err := ParseArgs([]string{"-w", "echo", "--nemesis", "partition", "--exercise", "kill"}); err == nil {
		t.Fatal("--exercise kill without a killing nemesis was accepted")
	}
	if _, err := ParseArgs([]string{"-w", "echo", "--nemesis", "kill-leader", "--exercise", "kill"}); err != nil {
		t.Fatalf("kill-leader exercises kill: %v", err)
	}
}
