package workload

import (
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// This file is the only place that names the workload checkers, so that a
// checker missing from package checker shows up here as "unknown", never
// as a silent pass.

// Unavailable is the verdict for a checker that does not exist.
func Unavailable(name string) checker.Result {
	return checker.Result{Checker: name, Valid: checker.Unknown,
		Summary: name + ": checker not available, so the run cannot be judged"}
}

// linearizableBudget bounds the linearizability search; past it the key is
// unknown, never valid.
const linearizableBudget = 60 * time.Second

func checkEcho(h history.History) checker.Result      { return checker.Echo(h) }
func checkUniqueIDs(h history.History) checker.Result { return checker.UniqueIDs(h) }
func checkPerNodeIncreasing(h history.History) checker.Result {
	return checker.PerNodeIncreasing(h)
}
func checkSetFull(h history.History, addF string) checker.Result {
	return checker.SetFull(h, addF)
}
func checkCounter(h history.History) checker.Result { return checker.Counter(h) }
func checkLinearizable(h history.History, outDir string) checker.Result {
	return checker.Linearizable(h, linearizableBudget, outDir)
}
func checkTxn(h history.History, kind string, models []string, opts checker.TxnOptions) checker.Result {
	return checker.TxnWith(h, kind, models, opts)
}
func checkKafka(h history.History) checker.Result { return checker.Kafka(h) }
func checkElection(h history.History, nodes []string, traffic []checker.LinkTraffic, d time.Duration, failovers int) checker.Result {
	return checker.Election(h, nodes, traffic, d, checker.ElectionLimits{Failovers: failovers})
}
func checkRaftLog(h history.History) checker.Result { return checker.RaftLog(h) }
func checkClocks(h history.History, p checker.ClockParams) []checker.Result {
	return checker.Clocks(h, p)
}
func checkProtocolErrors(h history.History, crash *checker.NodeCrash) checker.Result {
	return checker.ProtocolErrors(h, crash)
}
func checkNetRPC(h history.History) checker.Result { return checker.NetRPC(h) }
func checkShardAvailability(h history.History, shards int, bound time.Duration) checker.Result {
	return checker.ShardAvailability(h, shards, bound)
}
