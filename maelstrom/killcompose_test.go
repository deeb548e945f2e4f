package maelstrom

import (
	"fmt"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// Two faults that both kill compose: kill and kill-leader take the same
// node down and bring it back in every order over these seeds. No
// incarnation outlives the run (synctest.Test fails a run that leaves a
// goroutine behind), every step succeeds, and a node is down while either
// fault holds it: no op on it succeeds between its first kill and the
// restart that releases the last hold.
func TestKillAndKillLeaderCompose(t *testing.T) {
	overlaps := 0
	for seed := 1; seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "3", "--time-limit", "20",
				"--rate", "10", "--nemesis", "kill,kill-leader", "--nemesis-interval", "1", "--seed", fmt.Sprint(seed))
			if rep.Crash != nil {
				t.Fatalf("run crashed\n%s", rep.Summary())
			}
			// holds: node -> kills not yet matched by a restart; downSince:
			// when the first of them began.
			holds := map[string]int{}
			downSince := map[string]time.Duration{}
			var down [][3]any // node, from, to
			for _, op := range rep.History {
				if op.Process != NemesisProcess {
					continue
				}
				nodes, ok := op.Value.([]string)
				if !ok {
					t.Fatalf("nemesis step %s at %v: %v\n%s", op.F, op.Time, op.Value, rep.Summary())
				}
				for _, n := range nodes {
					switch op.F {
					case "kill":
						if holds[n]++; holds[n] == 1 {
							downSince[n] = op.Time
						} else {
							overlaps++
						}
					case "restart":
						if holds[n]--; holds[n] == 0 {
							down = append(down, [3]any{n, downSince[n], op.Time})
						}
					}
				}
			}
			for n, h := range holds {
				if h != 0 {
					t.Fatalf("node %s ends the run with %d kills not matched by a restart\n%s", n, h, rep.Summary())
				}
			}
			// A margin either side: a kill or restart is recorded just
			// after it happened.
			const margin = 100 * time.Millisecond
			for _, op := range rep.History {
				if op.Process < 0 || op.Type != history.OK {
					continue
				}
				for _, d := range down {
					if op.Node == d[0] && op.Time > d[1].(time.Duration)+margin && op.Time < d[2].(time.Duration)-margin {
						t.Fatalf("op on %s succeeded at %v while a fault held it down (%v to %v)\n%s",
							op.Node, op.Time, d[1], d[2], rep.Summary())
					}
				}
			}
		})
	}
	if overlaps == 0 {
		t.Fatal("no seed had both faults hold a node down at once: the test exercises nothing")
	}
}
