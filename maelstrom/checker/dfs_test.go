package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func dfsLocate(h *history.History, process int, inv, done time.Duration, chunks ...DFSChunk) {
	*h = append(*h,
		history.Op{Index: len(*h), Type: history.Invoke, Process: process, F: "locate", Value: DFSOp{}, Time: inv},
		history.Op{Index: len(*h) + 1, Type: history.OK, Process: process, F: "locate", Value: DFSOp{Chunks: chunks}, Time: done, Node: "n0"})
}

func dfsStepOp(h *history.History, f string, at time.Duration, nodes ...string) {
	*h = append(*h, history.Op{Index: len(*h), Type: history.Info, Process: -1, F: f, Value: nodes, Time: at})
}

var dfsRepairParams = DFSParams{ChunkServers: []string{"n3", "n4", "n5", "n6"}, Replicas: 3, Bound: 2 * time.Second}

// A locate long enough after a kill that still counts the dead server is
// a violation; one inside the bound is not judged; the repair time is the
// first fully replicated locate after the step.
func TestDFSRepairBound(t *testing.T) {
	var h history.History
	dfsStepOp(&h, "kill", time.Second, "n3")
	dfsLocate(&h, 0, 1500*time.Millisecond, 1510*time.Millisecond, DFSChunk{Path: "/f0", Replicas: []string{"n3", "n4", "n5"}})
	dfsLocate(&h, 0, 2500*time.Millisecond, 2510*time.Millisecond, DFSChunk{Path: "/f0", Replicas: []string{"n4", "n5", "n6"}})
	res := DFSRepair(h, dfsRepairParams)
	d := res.Details.(DFSRepairDetails)
	if res.Valid != Unknown || d.Judged != 0 || d.Repaired != 1 || d.RepairMax != 1510*time.Millisecond {
		t.Fatalf("within the bound: %s %+v", res.Valid, d)
	}
	dfsLocate(&h, 0, 3500*time.Millisecond, 3510*time.Millisecond, DFSChunk{Path: "/f0", Replicas: []string{"n3", "n4", "n5"}})
	res = DFSRepair(h, dfsRepairParams)
	if res.Valid != Invalid || res.First().Node != "n0" || res.First().Op == nil {
		t.Fatalf("dead replica counted 2.5 s after the kill: %s %+v", res.Valid, res.Violations)
	}
}

// A chunk on no live server while servers are down is excused: all its
// copies may be on them. With every server up it is judged.
func TestDFSRepairUnavailableChunk(t *testing.T) {
	var h history.History
	dfsStepOp(&h, "kill", time.Second, "n3", "n4", "n5")
	dfsLocate(&h, 0, 5*time.Second, 5*time.Second+time.Millisecond, DFSChunk{Path: "/f0", Replicas: []string{}})
	if res := DFSRepair(h, dfsRepairParams); res.Valid != Valid {
		t.Fatalf("excused chunk judged: %s", res.Summary)
	}
	dfsStepOp(&h, "restart", 6*time.Second, "n3", "n4", "n5")
	dfsLocate(&h, 0, 9*time.Second, 9*time.Second+time.Millisecond, DFSChunk{Path: "/f0", Replicas: []string{}})
	if res := DFSRepair(h, dfsRepairParams); res.Valid != Invalid {
		t.Fatalf("chunk on no server with every server up: %s", res.Summary)
	}
}
