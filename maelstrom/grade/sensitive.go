package grade

import (
	"slices"

	"github.com/distsys-curriculum/distsys/maelstrom"
)

// timedWorkloads are the workloads whose verdict depends on how promptly
// nodes and the grader run: Raft's election timeouts and heartbeat budget
// (election, log, lin-kv on Raft, lease reads), real sockets and deadlines
// (net-rpc), clock bounds measured against true time (clocks). Starved of
// CPU by a neighbouring run, a correct node can miss those.
var timedWorkloads = []string{"election", "log", "lin-kv", "net-rpc", "clocks"}

// LatencySensitive reports whether a stage must be graded alone, with no
// other stage running beside it, and why. A stage is sensitive when its
// workload judges timing, or when it simulates network latency (the
// latency figures a lesson targets are then measured in real time).
func LatencySensitive(opts maelstrom.Options) (bool, string) {
	if slices.Contains(timedWorkloads, opts.Workload) {
		return true, "workload " + opts.Workload + " judges timing"
	}
	if opts.Latency > 0 {
		return true, "simulated latency " + opts.Latency.String()
	}
	return false, ""
}
