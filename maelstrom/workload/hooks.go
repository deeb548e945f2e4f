package workload

import (
	"context"
	"encoding/json"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Optional interfaces through which an Instance reaches past the client
// protocol. The runner looks for each one and wires it up before Setup.

// StdinWriter is implemented by instances that write raw lines straight to
// a node's stdin, bypassing the network: the errors workload's malformed
// input. write appends the newline; it fails when the node is down.
type StdinWriter interface {
	SetStdin(write func(node string, line []byte) error)
}

// NodeEnver is implemented by instances that give each node extra
// environment variables, e.g. net-rpc's NETRPC_ADDR. It is called for
// every start of a node, restarts included.
type NodeEnver interface {
	NodeEnv(node string) map[string]string
}

// ServiceProvider is implemented by instances that run service endpoints
// of their own inside the grader, addressed like Maelstrom's lin-kv: a slow
// backing store that counts its calls, an origin server, backends. The
// runner registers each name in Services on the network (services are
// never partitioned) and calls HandleService for every message sent to it,
// from the network's delivery goroutine: it must not block. send delivers
// a message from that endpoint with the usual latency; to answer after a
// delay, call send later (time.AfterFunc runs under virtual time too).
type ServiceProvider interface {
	Services() []string
	HandleService(service, src string, body json.RawMessage, send func(dest string, body json.RawMessage))
}

// Crash is what the runner knows about a node that died during the run.
type Crash struct {
	Node       string
	Time       time.Duration
	What       string
	ExitStatus string
	Stderr     []string // last lines
}

// CrashJudge is implemented by instances for which a crashed node is a
// verdict rather than the end of the test: the errors workload, whose
// point is that bad input must not kill the node. The runner then judges
// the history up to the crash with JudgeCrash instead of giving up.
type CrashJudge interface {
	JudgeCrash(h history.History, c Crash) checker.Result
}

// FaultTargeter is implemented by instances whose nodes play different
// roles, so that a fault may choose its victims among some of them only:
// the dfs workload's corrupt rots chunk servers' disks, not the masters'.
// FaultTargets returns the nodes the named fault (nemesis name) may hit;
// returning nodes unchanged leaves the fault as it is.
type FaultTargeter interface {
	FaultTargets(fault string, nodes []string) []string
}

// DataReader is implemented by instances whose checks read what nodes
// left in their data directories (secure-kv scans them for plaintext).
// read returns every regular file under a node's data directory (path
// relative to it → contents), on its simulated disk in-process; it works
// until Check returns, after the nodes are stopped.
type DataReader interface {
	SetDataReader(read func(node string) (map[string][]byte, error))
}

// Reaper is implemented by instances whose own schedule kills nodes for
// good (the dht workload's deaths): SetKill hands them the runner's kill.
// A node killed through it is never restarted; the kill goes through the
// same machinery as the nemesis's, so it is logged and counted alike.
type Reaper interface {
	SetKill(kill func(ctx context.Context, node string) error)
}
