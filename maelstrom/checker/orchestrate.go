package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// OrchChange is an apply, scale or delete of the orchestrate workload: the
// deployment, its replicas and cpu request (millicores) after the change,
// and the change's generation (a later change has a higher one; a node
// keeps the change with the highest generation it has seen).
type OrchChange struct {
	Deployment string `json:"deployment"`
	Replicas   int    `json:"replicas"`
	CPU        int    `json:"cpu,omitempty"`
	Generation int64  `json:"generation"`
}

// OrchCall is a call through the mesh to a service (a deployment); Call
// numbers it, Pod is the pod that answered.
type OrchCall struct {
	Service string `json:"service"`
	Call    int64  `json:"call"`
	Pod     string `json:"pod,omitempty"`
}

// OrchPod is one run of a pod on a machine as the grader's container
// runtime saw it: from its start to its stop (End 0: still running, until
// its node was killed, which the checker reads from the history).
type OrchPod struct {
	Pod        string        `json:"pod"`
	Deployment string        `json:"deployment"`
	Node       string        `json:"node"`
	CPU        int           `json:"cpu"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end,omitempty"`
}

// OrchOver is a pod start that took its machine past its capacity.
type OrchOver struct {
	Node string        `json:"node"`
	Pod  string        `json:"pod"`
	Used int           `json:"used"` // requests running on the node with the pod
	At   time.Duration `json:"at"`
}

// OrchServed is a call a pod answered, through the runtime.
type OrchServed struct {
	Pod        string
	Deployment string
	Node       string
	At         time.Duration
}

// OrchRuntime is what the orchestrate workload's runtime observed.
type OrchRuntime struct {
	Capacity int // cpu millicores per machine
	Nodes    []string
	Pods     []OrchPod
	Over     []OrchOver
	Served   map[int64]OrchServed
	// Bound is how soon after a change (or the end of a fault) the running
	// pods must match the desired state; Warmup how long a pod must have
	// run before a call to its service must succeed.
	Bound, Warmup time.Duration
}

// OrchDetails are the orchestrate checker's figures.
type OrchDetails struct {
	Changes        int           `json:"changes"`
	Windows        int           `json:"windows"`           // quiet windows judged
	JudgedSeconds  float64       `json:"judged_seconds"`    // their total length
	Ambiguous      int           `json:"ambiguous"`         // deployment-windows skipped (an indefinite change)
	ConvergeP50    time.Duration `json:"converge_p50"`      // change completed -> running pods as desired
	ConvergeMax    time.Duration `json:"converge_max"`      //
	Unconverged    int           `json:"unconverged"`       // changes never matched before the next change
	PodStarts      int           `json:"pod_starts"`        //
	OverCapacity   int           `json:"over_capacity"`     //
	Calls          int           `json:"calls"`             //
	CallsOK        int           `json:"calls_ok"`          //
	CallsExcused   int           `json:"calls_excused"`     // failed while no pod was ready, in a partition, or on a dead node
	CallLatency    Quantiles     `json:"call_latency"`      //
	Packing        *OrchPacking  `json:"packing,omitempty"` //
	BoundSeconds   float64       `json:"bound_seconds"`
	WarmupSeconds  float64       `json:"warmup_seconds"`
	CapacityMillis int           `json:"capacity"`
}

// OrchPacking compares the pods running at the end of the last quiet
// window with two references: the lower bound ceil(total / capacity) and
// first-fit decreasing of the same requests.
type OrchPacking struct {
	At         time.Duration `json:"at"`
	Pods       int           `json:"pods"`
	Requests   int           `json:"requests"` // total cpu millicores
	NodesUsed  int           `json:"nodes_used"`
	LowerBound int           `json:"lower_bound"`
	FFD        int           `json:"ffd"`
}

// FirstFitDecreasing packs sizes into bins of capacity, largest first, each
// into the first bin it fits, and returns the number of bins (a size above
// capacity gets a bin of its own).
func FirstFitDecreasing(sizes []int, capacity int) int {
	s := slices.Clone(sizes)
	slices.SortFunc(s, func(a, b int) int { return b - a })
	var free []int
	for _, x := range s {
		placed := false
		for i := range free {
			if free[i] >= x {
				free[i] -= x
				placed = true
				break
			}
		}
		if !placed {
			free = append(free, capacity-x)
		}
	}
	return len(free)
}

// span is a stretch of time during which convergence is not judged.
type span struct{ from, to time.Duration }

// Orchestrate judges the orchestrate workload:
//
//   - no machine is ever over capacity: every pod start the runtime saw
//     fits beside the pods running there;
//   - convergence: outside a disturbance (a change from its invocation to
//     Bound after its completion; a kill or partition from its start to
//     Bound after it ends), every deployment runs exactly its desired
//     replicas at every instant, and nothing else runs. A deployment
//     whose last change ended indefinitely is skipped until its next
//     definite change;
//   - the mesh: a call answered ok names a pod of its service that served
//     it through the runtime; a call that fails is excused only if some
//     instant of it had no pod of the service running for Warmup, a
//     partition was on, or the node it asked was down.
//
// It reports convergence times, call figures, and the packing at the end
// of the last quiet window.
func Orchestrate(h history.History, rt OrchRuntime) Result {
	res := Result{Checker: "orchestrate", Valid: Valid}
	d := OrchDetails{BoundSeconds: rt.Bound.Seconds(), WarmupSeconds: rt.Warmup.Seconds(), CapacityMillis: rt.Capacity,
		PodStarts: len(rt.Pods), OverCapacity: len(rt.Over)}
	end := time.Duration(0)
	for _, o := range h {
		end = max(end, o.Time)
	}
	for _, p := range rt.Pods {
		end = max(end, p.Start, p.End)
	}

	// Faults: kills end the pods of the killed nodes; partitions and
	// kills are disturbances.
	var dist []span
	var partitions []span
	down := map[string][]span{}
	for n, ws := range DownSpans(h, end+1, false) {
		for _, w := range ws {
			down[n] = append(down[n], span{w.From, w.To})
			dist = append(dist, span{w.From, w.To + rt.Bound})
		}
	}
	openPart := time.Duration(-1)
	for _, o := range h {
		if o.Process >= 0 {
			continue
		}
		switch o.F {
		case "start-partition":
			openPart = o.Time
		case "stop-partition":
			if openPart >= 0 {
				partitions = append(partitions, span{openPart, o.Time})
				dist = append(dist, span{openPart, o.Time + rt.Bound})
				openPart = -1
			}
		}
	}
	if openPart >= 0 {
		partitions = append(partitions, span{openPart, end + 1})
		dist = append(dist, span{openPart, end + 1})
	}
	pods := slices.Clone(rt.Pods)
	for i := range pods {
		p := &pods[i]
		if p.End == 0 {
			p.End = end + 1
		}
		for _, s := range down[p.Node] {
			if s.from >= p.Start && s.from < p.End {
				p.End = s.from
			}
		}
	}

	for _, o := range rt.Over {
		res.Valid = Invalid
		if len(res.Violations) < 10 {
			res.Violations = append(res.Violations, Violation{What: "over capacity", Node: o.Node, Value: o.Pod, Time: o.At,
				Detail: fmt.Sprintf("%s started pod %s at %s with %dm of cpu requests running there; its capacity is %dm",
					o.Node, o.Pod, at(o.At), o.Used, rt.Capacity)})
		}
	}

	// Desired state from the changes, by generation.
	type change struct {
		p   op
		v   OrchChange
		out history.Type
	}
	var changes []change
	var calls []op
	for _, p := range clientOps(h) {
		switch v := p.invoke.Value.(type) {
		case OrchChange:
			changes = append(changes, change{p, v, p.outcome()})
			to := end + 1
			if p.completion != nil {
				to = p.completion.Time + rt.Bound
			}
			dist = append(dist, span{p.invoke.Time, to})
		case OrchCall:
			calls = append(calls, p)
		}
	}
	d.Changes = len(changes)
	// desiredAt returns, for time t, each deployment's replicas and the
	// deployments whose state is ambiguous.
	desiredAt := func(t time.Duration) (map[string]int, map[string]bool, map[string]*op) {
		want, gen, amb := map[string]int{}, map[string]int64{}, map[string]bool{}
		last := map[string]*op{}
		for i := range changes {
			c := &changes[i]
			if c.out == history.OK && c.p.completion.Time <= t && c.v.Generation > gen[c.v.Deployment] {
				want[c.v.Deployment], gen[c.v.Deployment] = c.v.Replicas, c.v.Generation
				last[c.v.Deployment] = &c.p
			}
		}
		for i := range changes {
			c := &changes[i]
			if c.out == history.Info && c.p.invoke.Time <= t && c.v.Generation > gen[c.v.Deployment] {
				amb[c.v.Deployment] = true
			}
		}
		return want, amb, last
	}
	running := func(t time.Duration) map[string][]OrchPod {
		out := map[string][]OrchPod{}
		for _, p := range pods {
			if p.Start <= t && t < p.End {
				out[p.Deployment] = append(out[p.Deployment], p)
			}
		}
		return out
	}
	windows := quiet(dist, end)
	// Instants at which the running set changes.
	var marks []time.Duration
	for _, p := range pods {
		marks = append(marks, p.Start, p.End)
	}
	slices.Sort(marks)
	var lastWindow *span
	for _, w := range windows {
		d.Windows++
		d.JudgedSeconds += (w.to - w.from).Seconds()
		want, amb, last := desiredAt(w.from)
		d.Ambiguous += len(amb)
		instants := []time.Duration{w.from}
		for _, m := range marks {
			if m > w.from && m < w.to {
				instants = append(instants, m)
			}
		}
		bad := false
		for _, t := range instants {
			run := running(t)
			deps := map[string]bool{}
			for dep := range want {
				deps[dep] = true
			}
			for dep := range run {
				deps[dep] = true
			}
			names := make([]string, 0, len(deps))
			for dep := range deps {
				names = append(names, dep)
			}
			sort.Strings(names)
			for _, dep := range names {
				if amb[dep] || len(run[dep]) == want[dep] {
					continue
				}
				res.Valid = Invalid
				bad = true
				v := Violation{What: "not converged", Value: map[string]any{"deployment": dep, "desired": want[dep], "running": len(run[dep])}, Time: t,
					Detail: fmt.Sprintf("deployment %s wanted %d pods but %d ran at %s (%s): the quiet window began at %s, %s after the last change or fault",
						dep, want[dep], len(run[dep]), at(t), podList(run[dep]), at(w.from), rt.Bound)}
				if o := last[dep]; o != nil {
					v.Op = o.observed()
					v.Node = o.node()
				} else if len(run[dep]) > 0 {
					v.Node = run[dep][0].Node
				}
				if len(res.Violations) < 10 {
					res.Violations = append(res.Violations, v)
				}
				break
			}
			if bad {
				break
			}
		}
		lastWindow = &w
	}

	// Convergence time of each definite change: from its completion to
	// the first instant its deployment runs its replicas.
	var conv []time.Duration
	for _, c := range changes {
		if c.out != history.OK {
			continue
		}
		from := c.p.completion.Time
		next := end + 1
		for _, o := range changes {
			if o.v.Deployment == c.v.Deployment && o.p.invoke.Time > c.p.invoke.Time {
				next = min(next, o.p.invoke.Time)
			}
		}
		found := false
		for _, t := range append([]time.Duration{from}, marks...) {
			if t < from || t >= next {
				continue
			}
			if len(running(t)[c.v.Deployment]) == c.v.Replicas {
				conv = append(conv, t-from)
				found = true
				break
			}
		}
		if !found {
			d.Unconverged++
		}
	}
	if q := quantilesOf(conv); q.Count > 0 {
		d.ConvergeP50, d.ConvergeMax = q.P50, q.Max
	}

	// Packing at the end of the last quiet window.
	if lastWindow != nil {
		t := lastWindow.to - 1
		pk := OrchPacking{At: t}
		used := map[string]bool{}
		var sizes []int
		for _, ps := range running(t) {
			for _, p := range ps {
				pk.Pods++
				pk.Requests += p.CPU
				used[p.Node] = true
				sizes = append(sizes, p.CPU)
			}
		}
		pk.NodesUsed = len(used)
		if rt.Capacity > 0 {
			pk.LowerBound = (pk.Requests + rt.Capacity - 1) / rt.Capacity
		}
		pk.FFD = FirstFitDecreasing(sizes, rt.Capacity)
		d.Packing = &pk
	}

	// The mesh.
	readySince := func(service string, from, to time.Duration) bool {
		// Some pod of service ran from from-Warmup through to: pods of one
		// service may hand over, so look for continuous cover.
		t := from - rt.Warmup
		for t <= to {
			best := time.Duration(-1)
			for _, p := range pods {
				if p.Deployment == service && p.Start <= max(t, 0) && p.End > t {
					best = max(best, p.End)
				}
			}
			if best < 0 {
				return false
			}
			t = best
		}
		return true
	}
	var lat []time.Duration
	for _, p := range calls {
		v := p.invoke.Value.(OrchCall)
		if p.final() && p.completion == nil {
			continue
		}
		d.Calls++
		if p.outcome() == history.OK {
			d.CallsOK++
			lat = append(lat, p.completion.Time-p.invoke.Time)
			got, _ := p.completion.Value.(OrchCall)
			s, ok := rt.Served[v.Call]
			if !ok || s.Pod != got.Pod || s.Deployment != v.Service {
				res.Valid = Invalid
				what := fmt.Sprintf("no pod served call %d", v.Call)
				if ok {
					what = fmt.Sprintf("call %d was served by pod %s of %s", v.Call, s.Pod, s.Deployment)
				}
				if len(res.Violations) < 10 {
					res.Violations = append(res.Violations, Violation{What: "forged call", Node: p.node(), Op: p.observed(), Value: got.Pod, Time: p.completion.Time,
						Detail: fmt.Sprintf("%s answered call %d to %s with pod %q, but %s", p.node(), v.Call, v.Service, got.Pod, what)})
				}
			}
			continue
		}
		to := end + 1
		if p.completion != nil {
			to = p.completion.Time
		}
		excused := !readySince(v.Service, p.invoke.Time, to) || overlaps(partitions, p.invoke.Time, to) || overlaps(down[p.invoke.Node], p.invoke.Time, to)
		if excused {
			d.CallsExcused++
			continue
		}
		res.Valid = Invalid
		if len(res.Violations) < 10 {
			res.Violations = append(res.Violations, Violation{What: "failed call", Node: p.node(), Op: p.observed(), Value: v.Service, Time: p.invoke.Time,
				Detail: fmt.Sprintf("call %d to %s through %s failed although a pod of %s had been running since %s before it and throughout, with no partition and the node up",
					v.Call, v.Service, p.node(), v.Service, rt.Warmup)})
		}
	}
	d.CallLatency = quantilesOf(lat)
	res.Details = d
	if d.Windows == 0 && res.Valid == Valid {
		res.Valid = Unknown
		res.Violations = append(res.Violations, Violation{What: "nothing judged", Detail: "no quiet window (no change and no fault for longer than the bound): convergence was never judged"})
	}

	pack := "no packing figure"
	if pk := d.Packing; pk != nil {
		pack = fmt.Sprintf("packing at %s: %d pods, %dm on %d nodes; lower bound %d, first-fit decreasing %d", at(pk.At), pk.Pods, pk.Requests, pk.NodesUsed, pk.LowerBound, pk.FFD)
	}
	res.Summary = fmt.Sprintf("%d changes, %d quiet windows (%.1fs) judged, converged in p50 %s max %s (%d never); %d pod starts, %d over capacity; calls %d ok of %d (%d excused), p99 %s; %s",
		d.Changes, d.Windows, d.JudgedSeconds, d.ConvergeP50.Round(time.Millisecond), d.ConvergeMax.Round(time.Millisecond), d.Unconverged,
		d.PodStarts, d.OverCapacity, d.CallsOK, d.Calls, d.CallsExcused, d.CallLatency.P99.Round(time.Millisecond), pack)
	if v := res.First(); v != nil && res.Valid == Invalid {
		res.Summary = v.What + ": " + v.Detail + "; " + res.Summary
	}
	return res
}

// quiet returns the stretches of [0, end] that no disturbance covers.
func quiet(dist []span, end time.Duration) []span {
	slices.SortFunc(dist, func(a, b span) int { return int(a.from - b.from) })
	var out []span
	t := time.Duration(0)
	for _, s := range dist {
		if s.from > t {
			out = append(out, span{t, s.from})
		}
		t = max(t, s.to)
	}
	if t < end {
		out = append(out, span{t, end})
	}
	return out
}

func overlaps(ss []span, from, to time.Duration) bool {
	for _, s := range ss {
		if s.from < to && from < s.to {
			return true
		}
	}
	return false
}

func podList(ps []OrchPod) string {
	if len(ps) == 0 {
		return "none"
	}
	var b []string
	for _, p := range ps {
		b = append(b, p.Pod+" on "+p.Node)
	}
	return strings.Join(b, ", ")
}
