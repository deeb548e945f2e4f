package checker

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The nemesis records its steps in the history as info ops of process -1:
// the op's F names the step (kill, restart, corrupt, pause, resume,
// start-partition, stop-partition, start-isolate, ...) and its Value the
// nodes it touched, when it touched nodes. The functions here read those
// steps once for every checker that excuses or judges by faults.

// faultNodes reads the nodes a fault step names.
func faultNodes(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

// DownStep is a fault step that changed which nodes are down, with the
// nodes down from At on.
type DownStep struct {
	At   time.Duration
	Down map[string]bool
}

// DownSteps replays the fault steps of h that take nodes down (kill,
// corrupt and, with pauses, pause) or bring them back (restart, resume).
// A node is down while it is killed or paused: a restart brings back a
// killed node and also a paused one (its new process is not paused); a
// resume only ends a pause, so a node paused and then killed stays down
// until its restart. A second kill of a node that is down changes nothing.
func DownSteps(h history.History, pauses bool) []DownStep {
	killed, paused := map[string]bool{}, map[string]bool{}
	var steps []DownStep
	for _, op := range h {
		if op.Process >= 0 || op.Type != history.Info {
			continue
		}
		nodes := faultNodes(op.Value)
		switch op.F {
		case "kill", "corrupt":
			for _, n := range nodes {
				killed[n] = true
			}
		case "restart":
			for _, n := range nodes {
				delete(killed, n)
				delete(paused, n)
			}
		case "pause", "resume":
			if !pauses {
				continue
			}
			for _, n := range nodes {
				if op.F == "pause" {
					paused[n] = true
				} else {
					delete(paused, n)
				}
			}
		default:
			continue
		}
		down := maps.Clone(killed)
		maps.Copy(down, paused)
		steps = append(steps, DownStep{At: op.Time, Down: down})
	}
	return steps
}

// DownSpans gives, per node, the spans [From, To) in which it was down
// (see DownSteps), the last one ending at end when no step brought the
// node back.
func DownSpans(h history.History, end time.Duration, pauses bool) map[string][]Window {
	out := map[string][]Window{}
	since := map[string]time.Duration{}
	for _, s := range DownSteps(h, pauses) {
		for n := range s.Down {
			if _, ok := since[n]; !ok {
				since[n] = s.At
			}
		}
		for _, n := range slices.Sorted(maps.Keys(since)) {
			if !s.Down[n] {
				out[n] = append(out[n], Window{From: since[n], To: s.At})
				delete(since, n)
			}
		}
	}
	for n, t := range since {
		out[n] = append(out[n], Window{From: t, To: end})
	}
	return out
}

// Window is a span of a run: [From, To).
type Window struct {
	From, To time.Duration
}

// HealthyWindows splits a run ending at end into the spans in which no
// fault was active, from the nemesis steps (process -1) in h. A fault
// starts with start-partition, kill or pause (any start-* step) and ends
// with stop-partition, restart or resume (any stop-* step); the run starts
// healthy.
func HealthyWindows(h history.History, end time.Duration) []Window {
	active := 0
	healthyFrom := time.Duration(0)
	var out []Window
	for _, o := range h {
		if o.Process >= 0 || o.Type != history.Info {
			continue
		}
		switch faultEdge(o.F) {
		case +1:
			if active == 0 && o.Time > healthyFrom {
				out = append(out, Window{From: healthyFrom, To: o.Time})
			}
			active++
		case -1:
			if active > 0 {
				active--
				if active == 0 {
					healthyFrom = o.Time
				}
			}
		}
	}
	if active == 0 && end > healthyFrom {
		out = append(out, Window{From: healthyFrom, To: end})
	}
	return out
}

// FaultWindows is the complement of HealthyWindows: the spans in which
// some fault was active, the last one ending at end if it never healed.
func FaultWindows(h history.History, end time.Duration) []Window {
	var out []Window
	from := time.Duration(0)
	for _, w := range HealthyWindows(h, end) {
		if w.From > from {
			out = append(out, Window{From: from, To: w.From})
		}
		from = w.To
	}
	if end > from {
		out = append(out, Window{From: from, To: end})
	}
	return out
}

// faultEdge says whether a nemesis step starts (+1) or ends (-1) a fault.
func faultEdge(f string) int {
	switch {
	case f == "kill" || f == "corrupt" || f == "pause" || strings.HasPrefix(f, "start-"):
		return +1
	case f == "restart" || f == "resume" || strings.HasPrefix(f, "stop-"):
		return -1
	}
	return 0
}
