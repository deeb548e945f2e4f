package maelstrom

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// A run whose partitions all cut nothing says it tested no partition;
// with two nodes every partition cuts one off.
func TestPartitionsWithoutEffectWarned(t *testing.T) {
	rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "1", "--time-limit", "10",
		"--nemesis", "partition", "--nemesis-interval", "1")
	wantVerdict(t, rep, checker.Valid, "WARNINGS", "had no effect", "tested no partition")

	rep = grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "2", "--time-limit", "10",
		"--nemesis", "partition", "--nemesis-interval", "1")
	starts := 0
	for _, s := range rep.Faults {
		if s.F == "start-partition" {
			starts++
			require.NotEqual(t, "(no effect)", describeStep(s.Value), "a partition of 2 nodes cut nothing")
		}
	}
	require.Positive(t, starts)
	for _, w := range rep.Warnings {
		require.NotContains(t, w, "had no effect")
	}
}

// Kafka's client crashes are bookkeeping: the table and the stats checker
// agree on the info count, and the crashes are listed apart.
func TestKafkaCrashOpsAgreeWithStats(t *testing.T) {
	rep := grade(t, testnodes.KafkaSingle(false), "-w", "kafka", "--node-count", "1", "--concurrency", "2n",
		"--time-limit", "10", "--rate", "100")
	wantVerdict(t, rep, checker.Valid, "not judged (the client's own bookkeeping", "crash ×")
	require.Positive(t, rep.Bookkeeping["crash"])
	_, inTable := rep.ByF["crash"]
	require.False(t, inTable, "crash ops in the table")
	info := 0
	for _, c := range rep.ByF {
		info += c.Info
	}
	res, _ := rep.Result("stats")
	require.Equal(t, res.Details.(checker.StatsDetails).InfoCount, info, rep.Summary())
	require.True(t, strings.Contains(rep.Summary(), "stats"), rep.Summary())
}
