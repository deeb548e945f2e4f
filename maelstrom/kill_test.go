package maelstrom

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

// killN1 kills n1 on start and restarts it on stop.
type killN1 struct{}

func (killN1) Name() string { return "kill-n1" }
func (killN1) Start(ctx context.Context, env nemesis.Env, _ *rand.Rand) (string, any, error) {
	return "kill", "n1", env.Kill(ctx, "n1")
}
func (killN1) Stop(ctx context.Context, env nemesis.Env) (string, any, error) {
	return "start", "n1", env.Restart(ctx, "n1")
}

func TestKillAndRestartInProcess(t *testing.T) {
	rep := gradeWithFaults(t, testnodes.UniqueIDs(false), []nemesis.Fault{killN1{}},
		"-w", "unique-ids", "--node-count", "2", "--time-limit", "30", "--rate", "20",
		"--nemesis-interval", "5", "--seed", "3")
	if rep.Crash != nil {
		t.Fatalf("run crashed\n%s", rep.Summary())
	}
	var restarts, okAfterRestart, infoOnN1 int
	restarted := false
	for _, op := range rep.History {
		switch {
		case op.Process == NemesisProcess && op.F == "start":
			if s, _ := op.Value.(string); s != "n1" {
				t.Fatalf("restart failed: %v", op.Value)
			}
			restarts++
			restarted = true
		case op.Process == NemesisProcess && op.F == "kill":
			restarted = false
		case op.Node == "n1" && op.Type == history.OK && restarted:
			okAfterRestart++
		case op.Node == "n1" && op.Type == history.Info:
			infoOnN1++
		}
	}
	if restarts == 0 || okAfterRestart == 0 || infoOnN1 == 0 {
		t.Fatalf("restarts %d, ok ops on n1 after a restart %d, timeouts on n1 %d; want all above 0\n%s",
			restarts, okAfterRestart, infoOnN1, rep.Summary())
	}
}

// A counter that restarts from zero after a kill hands out ids again.
func TestKillNemesisCatchesVolatileState(t *testing.T) {
	rep := grade(t, testnodes.UniqueIDs(false), "-w", "unique-ids", "--node-count", "3", "--time-limit", "30",
		"--rate", "50", "--nemesis", "kill", "--nemesis-interval", "5")
	wantVerdict(t, rep, checker.Invalid, "first problem (unique-ids)", "kill ×", "restart ×")
}

func TestClockFaultReachesNodes(t *testing.T) {
	var seen []string
	prog := testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Type() == "maelstrom_clock" {
				seen = append(seen, m.Src)
				return nil
			}
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			return nil
		}}
	})
	rep := grade(t, prog, "-w", "echo", "--node-count", "1", "--time-limit", "10", "--nemesis", "clock", "--nemesis-interval", "2")
	wantVerdict(t, rep, checker.Valid)
	if len(seen) == 0 || seen[0] != "nemesis" {
		t.Fatalf("control messages seen from %v; want some from nemesis\n%s", seen, rep.Summary())
	}
}
