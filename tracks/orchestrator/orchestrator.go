// Package orchestrator is the reference solution of the orchestrator
// track: a small Kubernetes on the watcher track's coordination service,
// graded by the orchestrate workload.
//
// Every node is a machine and runs four parts, all of which keep their
// state in the coordination service (tracks/watcher, run on every node as
// a Raft replica; its client package speaks to it):
//
//   - the API (api.go): apply, scale and delete write a deployment's
//     desired state under /deploy/, ordered by generation;
//   - the controller (controller.go), on the one node elected through the
//     watcher's election recipe: a level-triggered loop that lists the
//     desired and the actual state and closes the difference (creates and
//     deletes pods under /pods/, deletes the pods of dead machines) and
//     schedules unbound pods (package schedule: filter, then score);
//   - the kubelet (kubelet.go): registers its machine under /nodes/ with
//     a lease it keeps alive, and runs the pods bound to it on the
//     machine's container runtime, admitting only what fits;
//   - the sidecar (mesh.go): keeps a copy of the service endpoints
//     (/endpoints/, written by kubelets with their leases, so a dead
//     machine's endpoints vanish by themselves) through list and watch,
//     and routes calls to a pod, trying the next on failure.
//
// tracks/orchestrator/stages.tsv says how each stage is graded and
// README.md is the lesson.
package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/orchestrator/schedule"
	"github.com/distsys-curriculum/distsys/tracks/watcher"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// Options configure an orchestrator node.
type Options struct {
	Watcher watcher.Options
	// Score is the scheduler's ranking: pack (most allocated) or spread
	// (least allocated).
	Score string
	// IgnoreCapacity is the counter-example (--capacity ignore): the
	// scheduler's fit filter and the kubelet's admission are both off.
	IgnoreCapacity bool
	// EdgeKubelet is the counter-example (--kubelet edge): the kubelet acts
	// on the pod events it sees from its start, and never lists.
	EdgeKubelet bool
	// NodeTTL is the lease of a machine's registration: a machine silent
	// that long is dead to the controller.
	NodeTTL time.Duration
	// Resync bounds how long a loop waits for a change before it looks
	// again anyway.
	Resync time.Duration
	// CallAttempt bounds one try of a call at one pod; CallDeadline the
	// whole call (below the workload's 3 s client timeout).
	CallAttempt, CallDeadline time.Duration
}

// DefaultOptions: the watcher's defaults, packing, 2 s machine leases.
func DefaultOptions() Options {
	return Options{
		Watcher:      watcher.DefaultOptions(),
		Score:        "pack",
		NodeTTL:      2 * time.Second,
		Resync:       500 * time.Millisecond,
		CallAttempt:  400 * time.Millisecond,
		CallDeadline: 2500 * time.Millisecond,
	}
}

const usage = "usage: orchestrator [--score pack|spread] [--capacity respect|ignore] [--kubelet level|edge] [--node-ttl D] [--resync D] [--tick D] [--election-ticks E] [--heartbeat-ticks H]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("orchestrator")
	o.Watcher.Raft.RegisterFlags(fs)
	fs.StringVar(&o.Score, "score", o.Score, "scheduler score: pack (most allocated) or spread (least allocated)")
	capacity := fs.String("capacity", "respect", "respect, or ignore (counter-example: no fit filter, no admission)")
	kubelet := fs.String("kubelet", "level", "level (list, then watch) or edge (counter-example: events only)")
	fs.DurationVar(&o.NodeTTL, "node-ttl", o.NodeTTL, "lease of a machine's registration")
	fs.DurationVar(&o.Resync, "resync", o.Resync, "longest wait of a control loop between two looks")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.Score != "pack" && o.Score != "spread" {
		return o, fmt.Errorf("orchestrator: --score %q: want pack or spread", o.Score)
	}
	switch *capacity {
	case "respect":
	case "ignore":
		o.IgnoreCapacity = true
	default:
		return o, fmt.Errorf("orchestrator: --capacity %q: want respect or ignore", *capacity)
	}
	switch *kubelet {
	case "level":
	case "edge":
		o.EdgeKubelet = true
	default:
		return o, fmt.Errorf("orchestrator: --kubelet %q: want level or edge", *kubelet)
	}
	if o.NodeTTL <= 0 || o.Resync <= 0 {
		return o, fmt.Errorf("orchestrator: --node-ttl and --resync must be positive")
	}
	return o, nil
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// Orchestrator is one machine's share of the orchestrator.
type Orchestrator struct {
	n    *node.Node
	o    Options
	srv  *watcher.Server
	mesh *mesh
	api  apiState
}

// Setup starts the coordination service's replica and the machine's parts
// on n.
func Setup(n *node.Node, o Options) *Orchestrator {
	srv := watcher.Setup(n, o.Watcher)
	x := &Orchestrator{n: n, o: o, srv: srv, mesh: &mesh{endpoints: map[string]map[string]string{}}}
	node.HandleTyped(n, "apply", x.apply)
	node.HandleTyped(n, "scale", x.apply)
	node.HandleTyped(n, "delete_deployment", x.apply)
	node.HandleTyped(n, "call", x.call)
	node.HandleTyped(n, "mesh_call", x.meshCall)
	n.After(0, func(ctx context.Context) { go x.runController(ctx) })
	n.After(0, func(ctx context.Context) { go x.runKubelet(ctx) })
	n.After(0, func(ctx context.Context) { go x.runEndpoints(ctx) })
	return x
}

// client returns a client of this node's replica for one part; call it
// once per part and life of the node (watcher.Server.Conn adds the life to
// the identities, so a restarted node is not answered from its previous
// life's de-duplication entries).
func (x *Orchestrator) client(part string) client.Client {
	return client.Client{Conn: x.srv.Conn(part)}
}

// The keys in the coordination service.
const (
	deployPrefix   = "/deploy/"    // /deploy/<deployment> -> Deployment
	podPrefix      = "/pods/"      // /pods/<deployment>/<seq> -> Pod
	nodePrefix     = "/nodes/"     // /nodes/<node> -> Machine, with the kubelet's lease
	endpointPrefix = "/endpoints/" // /endpoints/<deployment>/<pod> -> Endpoint, with the kubelet's lease
	electionName   = "/election/controller"
)

// Deployment is a deployment's desired state; a deleted one stays as a
// tombstone so that its generation still orders later changes.
type Deployment struct {
	Replicas   int   `json:"replicas"`
	CPU        int   `json:"cpu"`
	Generation int64 `json:"generation"`
	Deleted    bool  `json:"deleted,omitempty"`
}

// Pod is a pod of a deployment, bound to Node once scheduled.
type Pod struct {
	Deployment string `json:"deployment"`
	CPU        int    `json:"cpu"`
	Node       string `json:"node"`
}

// Machine is a kubelet's registration.
type Machine struct {
	CPU int `json:"cpu"`
}

// Endpoint says where a running pod is.
type Endpoint struct {
	Node string `json:"node"`
}

// podName names the pod stored at key /pods/<deployment>/<seq>:
// <deployment>-<seq>.
func podName(key string) string {
	rest := strings.TrimPrefix(key, podPrefix)
	dep, seq, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil {
		return dep + "-" + seq
	}
	return dep + "-" + strconv.FormatInt(n, 10)
}

// profile is the scheduler the options ask for.
func (o Options) profile() schedule.Profile {
	p := schedule.Profile{Score: schedule.MostAllocated}
	if o.Score == "spread" {
		p.Score = schedule.LeastAllocated
	}
	if !o.IgnoreCapacity {
		p.Filters = append(p.Filters, schedule.Fits)
	}
	return p
}

// encode is v as the service hands it back: its answers pass through
// maps, which sort object keys, and its compare-and-set compares bytes
// (compacted), so every value written here is written with sorted keys
// for a later compare-and-set from what was read to match.
func encode(v any) json.RawMessage {
	raw, _ := json.Marshal(v)
	var m any
	if json.Unmarshal(raw, &m) == nil {
		raw, _ = json.Marshal(m)
	}
	return raw
}

// pause waits d or until ctx ends, and says whether ctx is still live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
