package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// orchestrate (ours, the orchestrator track): the nodes are machines that
// together run a container orchestrator. Clients change deployments and
// call services through the mesh:
//
//	{"type":"apply","deployment":"d1","replicas":3,"cpu":250,"generation":7} -> {"type":"apply_ok"}
//	{"type":"scale","deployment":"d1","replicas":5,"generation":9}           -> {"type":"scale_ok"}   (error 20: no such deployment)
//	{"type":"delete_deployment","deployment":"d1","generation":12}           -> {"type":"delete_deployment_ok"}  (error 20: no such deployment)
//	{"type":"call","service":"d1","call":42}                                 -> {"type":"call_ok","pod":"d1-7"}
//
// (delete_deployment, not delete: the nodes of the orchestrator track
// also serve the watcher's protocol, whose delete removes a key.) A
// change with a generation not above the one a deployment last took
// changes nothing (and is answered ok): generations order changes whose
// messages cross. The machines' container runtime is a service the grader
// runs, "runtime"; a node speaks to it for its own machine only:
//
//	{"type":"node_info"}                                  -> {"type":"node_info_ok","cpu":1000}
//	{"type":"pod_start","pod":"d1-7","deployment":"d1","cpu":250} -> {"type":"pod_start_ok"}
//	{"type":"pod_stop","pod":"d1-7"}                       -> {"type":"pod_stop_ok"}
//	{"type":"pod_list"}                                    -> {"type":"pod_list_ok","pods":[{"pod":..,"deployment":..,"cpu":..}]}
//	{"type":"pod_call","pod":"d1-7","call":42}             -> {"type":"pod_call_ok","pod":"d1-7"}   (error 20: not running here)
//
// A killed machine loses its pods. The operator makes a change every
// --change-interval seconds through whichever of the first threads (one
// per node) is free; every thread calls services otherwise. The desired cpu requests never exceed --fill of the
// cluster's capacity and each pod asks at most (1 - fill) of a machine,
// so that any placement that respects capacity fits every pod once all
// machines are up. The checker (checker.Orchestrate) wants no machine over
// capacity, the running pods equal to the desired ones outside
// disturbances plus --bound, and calls answered by real pods while one of
// the service's pods was ready.
func init() {
	Register(func() Spec {
		return Spec{Name: "orchestrate", Description: "deployments scheduled on machines with capacities, reconciled through kills; calls through a mesh (ours)",
			Reusable: true, Final: true,
			Timeout: func(lat time.Duration) time.Duration { return max(10*lat, 3*time.Second) },
			Flags: []Flag{
				{Name: "capacity", Default: "1000", Usage: "cpu millicores of each machine"},
				{Name: "deployments", Default: "4", Usage: "number of deployment names d0, d1, ..."},
				{Name: "change-interval", Default: "5", Usage: "seconds between the operator's changes"},
				{Name: "fill", Default: "0.6", Usage: "largest fraction of the cluster's capacity the desired requests take"},
				{Name: "bound", Default: "4000", Usage: "milliseconds after a change or a fault by which running pods must be as desired"},
				{Name: "warmup", Default: "2000", Usage: "milliseconds a pod must have run before calls to its service must succeed"},
			},
			New: newOrchestrate,
		}
	})
}

func newOrchestrate(p Params) (Instance, error) {
	var v [6]float64
	for i, c := range []struct {
		name   string
		lo, hi float64
	}{{"capacity", 100, 1e9}, {"deployments", 1, 100}, {"change-interval", 0.1, 3600}, {"fill", 0.05, 0.95}, {"bound", 1, 3.6e6}, {"warmup", 0, 3.6e6}} {
		x, err := p.FlagNumber(c.name, c.lo, c.hi)
		if err != nil {
			return nil, err
		}
		v[i] = x
	}
	w := &orchWL{p: p, capacity: int(v[0]), interval: time.Duration(v[2] * float64(time.Second)), fill: v[3],
		bound: time.Duration(v[4] * float64(time.Millisecond)), warmup: time.Duration(v[5] * float64(time.Millisecond)),
		rng: rand.New(rand.NewPCG(p.Rand.Uint64(), p.Rand.Uint64())), served: map[int64]checker.OrchServed{}, lastChange: -time.Hour}
	w.budget = int(w.fill * float64(w.capacity*len(p.NodeIDs)))
	// Pods ask 100m and up, in 50m steps, at most (1 - fill) of a machine.
	maxCPU := max(100, int((1-w.fill)*float64(w.capacity))/50*50)
	for i := range int(v[1]) {
		w.deps = append(w.deps, &orchDep{name: fmt.Sprintf("d%d", i), cpu: 100 + 50*w.rng.IntN((maxCPU-100)/50+1)})
	}
	w.start = time.Now()
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

type orchDep struct {
	name     string
	cpu      int
	exists   bool
	replicas int // as last known
	reserve  int // replicas the budget keeps for it (more while a change is indefinite)
	// unsettled: its last change ended indefinitely; the next change goes
	// to it, so that the checker can judge it again.
	unsettled bool
}

type orchWL struct {
	noSetup
	p             Params
	capacity      int
	interval      time.Duration
	fill          float64
	bound, warmup time.Duration
	budget        int
	start         time.Time
	deps          []*orchDep
	mu            sync.Mutex
	rng           *rand.Rand
	generation    int64
	cycle         int
	calls         int64
	lastChange    time.Duration
	pods          []checker.OrchPod
	running       map[string]int // pod@node -> index in pods
	over          []checker.OrchOver
	served        map[int64]checker.OrchServed
}

func (w *orchWL) now() time.Duration { return time.Since(w.start) }

func (w *orchWL) Next(thread, _ int) Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The operator is whichever of the first threads (one per node, so
	// that a dead node does not silence it) is free when a change is due.
	if now := w.now(); thread < len(w.p.NodeIDs) && now-w.lastChange >= w.interval {
		w.lastChange = now
		return w.change()
	}
	return w.call()
}

func (w *orchWL) Final(int) []Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Invocation
	for range 3 {
		out = append(out, w.call())
	}
	return out
}

// call picks a service believed to run pods (any, when none does).
func (w *orchWL) call() Invocation {
	var live []*orchDep
	for _, d := range w.deps {
		if d.exists && d.replicas > 0 {
			live = append(live, d)
		}
	}
	if len(live) == 0 {
		live = w.deps
	}
	w.calls++
	return Invocation{F: "call", Value: checker.OrchCall{Service: live[w.rng.IntN(len(live))].name, Call: w.calls}}
}

// change draws an apply, scale or delete within the budget.
func (w *orchWL) change() Invocation {
	d := w.deps[w.rng.IntN(len(w.deps))]
	for _, o := range w.deps {
		if o.unsettled {
			d = o // an indefinite change: settle it first
		}
	}
	others := 0
	for _, o := range w.deps {
		if o != d {
			others += o.reserve * o.cpu
		}
	}
	most := min(5, max(0, (w.budget-others)/d.cpu))
	w.generation++
	c := checker.OrchChange{Deployment: d.name, CPU: d.cpu, Generation: w.generation}
	// Changes to existing deployments cycle through the kinds, so that
	// every kind is tried often in every run.
	kind := "apply"
	if d.exists {
		kind = []string{"scale", "apply", "scale", "delete_deployment"}[w.cycle%4]
		w.cycle++
	}
	switch kind {
	case "apply":
		c.Replicas = min(most, 1+w.rng.IntN(4))
	case "scale":
		c.Replicas = w.rng.IntN(most + 1)
		c.CPU = 0
	}
	return Invocation{F: kind, Value: c}
}

func (w *orchWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch v := inv.Value.(type) {
	case checker.OrchCall:
		raw, err := c.RPC(ctx, map[string]any{"type": "call", "service": v.Service, "call": v.Call})
		if err != nil {
			return Outcome(err, true, true)
		}
		m, err := Decode(raw, "call_ok", Field{Name: "pod"})
		if err != nil {
			return Outcome(err, true, true)
		}
		if err := json.Unmarshal(m["pod"], &v.Pod); err != nil {
			return Outcome(&MalformedError{Reason: "pod must be a string: " + string(m["pod"])}, true, true)
		}
		return ok(v)
	case checker.OrchChange:
		body := map[string]any{"type": inv.F, "deployment": v.Deployment, "generation": v.Generation}
		if inv.F != "delete_deployment" {
			body["replicas"] = v.Replicas
		}
		if inv.F == "apply" {
			body["cpu"] = v.CPU
		}
		raw, err := c.RPC(ctx, body)
		if err == nil {
			_, err = Decode(raw, inv.F+"_ok")
		}
		comp := ok(v)
		if err != nil {
			comp = Outcome(err, true, false)
		}
		w.learn(inv.F, v, comp.Type)
		return comp
	}
	return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown operation " + inv.F}}
}

// learn updates what the operator believes after a change.
func (w *orchWL) learn(f string, v checker.OrchChange, out history.Type) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var d *orchDep
	for _, x := range w.deps {
		if x.name == v.Deployment {
			d = x
		}
	}
	d.unsettled = out == history.Info
	switch {
	case out == history.OK && f == "delete_deployment":
		d.exists, d.replicas, d.reserve = false, 0, 0
	case out == history.OK:
		d.exists, d.replicas, d.reserve = true, v.Replicas, v.Replicas
	case out == history.Info && f != "delete_deployment":
		d.exists, d.replicas, d.reserve = true, v.Replicas, max(d.reserve, v.Replicas)
	case out == history.Info:
		d.reserve = max(d.reserve, d.replicas+1) // settled by the next change
	case f != "apply":
		// Refused (error 20: no such deployment, after an indefinite
		// apply that did not take): the next change applies it. The
		// budget keeps its reserve, in case that apply still lands.
		d.exists = false
	}
}

func (w *orchWL) Services() []string { return []string{"runtime"} }

// NodeEnv is called at every start of a machine: a restarted machine has
// lost its pods.
func (w *orchWL) NodeEnv(node string) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for key, i := range w.running {
		if w.pods[i].Node == node {
			w.pods[i].End = now
			delete(w.running, key)
		}
	}
	return nil
}

type orchRuntimeReq struct {
	Type       string `json:"type"`
	MsgID      *int64 `json:"msg_id"`
	Pod        string `json:"pod"`
	Deployment string `json:"deployment"`
	CPU        int    `json:"cpu"`
	Call       int64  `json:"call"`
}

// HandleService is the container runtime of every machine.
func (w *orchWL) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req orchRuntimeReq
	if err := json.Unmarshal(body, &req); err != nil || req.MsgID == nil {
		return
	}
	reply := map[string]any{"in_reply_to": *req.MsgID, "type": req.Type + "_ok"}
	fail := func(code int, text string) { reply["type"], reply["code"], reply["text"] = "error", code, text }
	w.mu.Lock()
	now := w.now()
	if w.running == nil {
		w.running = map[string]int{}
	}
	key := req.Pod + "@" + src
	switch req.Type {
	case "node_info":
		reply["cpu"] = w.capacity
	case "pod_start":
		switch {
		case req.Pod == "" || req.Deployment == "" || req.CPU <= 0:
			fail(12, "pod_start needs pod, deployment and a positive cpu")
		default:
			if _, ok := w.running[key]; ok {
				break // already running here
			}
			used := req.CPU
			for _, i := range w.running {
				if w.pods[i].Node == src {
					used += w.pods[i].CPU
				}
			}
			if used > w.capacity {
				w.over = append(w.over, checker.OrchOver{Node: src, Pod: req.Pod, Used: used, At: now})
			}
			w.running[key] = len(w.pods)
			w.pods = append(w.pods, checker.OrchPod{Pod: req.Pod, Deployment: req.Deployment, Node: src, CPU: req.CPU, Start: now})
		}
	case "pod_stop":
		if i, ok := w.running[key]; ok {
			w.pods[i].End = now
			delete(w.running, key)
		}
	case "pod_list":
		pods := []map[string]any{}
		for _, i := range w.running {
			if p := w.pods[i]; p.Node == src {
				pods = append(pods, map[string]any{"pod": p.Pod, "deployment": p.Deployment, "cpu": p.CPU})
			}
		}
		sort.Slice(pods, func(a, b int) bool { return pods[a]["pod"].(string) < pods[b]["pod"].(string) })
		reply["pods"] = pods
	case "pod_call":
		i, ok := w.running[key]
		if !ok {
			fail(20, fmt.Sprintf("pod %q is not running on %s", req.Pod, src))
			break
		}
		w.served[req.Call] = checker.OrchServed{Pod: req.Pod, Deployment: w.pods[i].Deployment, Node: src, At: now}
		reply["pod"] = req.Pod
	default:
		fail(10, fmt.Sprintf("the runtime serves node_info, pod_start, pod_stop, pod_list and pod_call, not %q", req.Type))
	}
	w.mu.Unlock()
	out, _ := json.Marshal(reply)
	send(src, out)
}

func (w *orchWL) Check(h history.History) checker.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	served := make(map[int64]checker.OrchServed, len(w.served))
	for k, v := range w.served {
		served[k] = v
	}
	return checker.Orchestrate(h, checker.OrchRuntime{Capacity: w.capacity, Nodes: w.p.NodeIDs,
		Pods: append([]checker.OrchPod(nil), w.pods...), Over: append([]checker.OrchOver(nil), w.over...),
		Served: served, Bound: w.bound, Warmup: w.warmup})
}
