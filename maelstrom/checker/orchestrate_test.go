package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// orchHistory: d1 applied with 2 replicas at 0-0.1 s, then a scale to 3
// whose outcome is given, at 10-10.1 s; the run ends at 30 s.
func orchHistory(scale history.Type) history.History {
	apply := OrchChange{Deployment: "d1", Replicas: 2, CPU: 300, Generation: 1}
	sc := OrchChange{Deployment: "d1", Replicas: 3, Generation: 2}
	return history.History{
		{Type: history.Invoke, Process: 0, F: "apply", Value: apply, Time: 0, Node: "n0"},
		{Type: history.OK, Process: 0, F: "apply", Value: apply, Time: sec(0.1), Node: "n0"},
		{Type: history.Invoke, Process: 0, F: "scale", Value: sc, Time: sec(10), Node: "n0"},
		{Type: scale, Process: 0, F: "scale", Value: sc, Time: sec(10.1), Node: "n0"},
		{Type: history.Invoke, Process: 1, F: "call", Value: OrchCall{Service: "d1", Call: 1}, Time: sec(29), Node: "n1"},
		{Type: history.OK, Process: 1, F: "call", Value: OrchCall{Service: "d1", Call: 1, Pod: "d1-1"}, Time: sec(30), Node: "n1"},
	}
}

func orchRuntime(pods ...OrchPod) OrchRuntime {
	return OrchRuntime{Capacity: 1000, Bound: sec(4), Warmup: sec(2), Pods: pods,
		Served: map[int64]OrchServed{1: {Pod: "d1-1", Deployment: "d1", Node: "n1", At: sec(29.5)}}}
}

func TestOrchestrateConverged(t *testing.T) {
	res := Orchestrate(orchHistory(history.OK), orchRuntime(
		OrchPod{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		OrchPod{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
		OrchPod{Pod: "d1-3", Deployment: "d1", Node: "n2", CPU: 300, Start: sec(11)},
	))
	if res.Valid != Valid {
		t.Fatalf("%s", res.Summary)
	}
	d := res.Details.(OrchDetails)
	if d.Windows != 2 || d.Packing == nil || d.Packing.NodesUsed != 2 || d.Packing.FFD != 1 || d.Packing.LowerBound != 1 || d.ConvergeMax != sec(0.9) {
		t.Fatalf("%+v %+v", d, d.Packing)
	}
}

func TestOrchestrateShortOfReplicas(t *testing.T) {
	res := Orchestrate(orchHistory(history.OK), orchRuntime(
		OrchPod{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		OrchPod{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
	))
	v := res.First()
	if res.Valid != Invalid || v.What != "not converged" || v.Time != sec(14.1) || v.Op == nil || v.Op.F != "scale" || v.Node != "n0" {
		t.Fatalf("%s\n%+v", res.Summary, v)
	}
}

// An indefinite scale leaves d1 undecided: 2 or 3 pods are both fine
// until the next definite change.
func TestOrchestrateIndefiniteChangeIsSkipped(t *testing.T) {
	res := Orchestrate(orchHistory(history.Info), orchRuntime(
		OrchPod{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		OrchPod{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
	))
	if res.Valid != Valid || res.Details.(OrchDetails).Ambiguous == 0 {
		t.Fatalf("%s", res.Summary)
	}
}

// A kill ends the pods of the killed node at the kill, whatever the
// runtime noted later.
func TestOrchestrateKillEndsPods(t *testing.T) {
	h := orchHistory(history.OK)
	h = append(h[:4], append(history.History{
		{Type: history.Info, Process: -1, F: "kill", Value: []string{"n2"}, Time: sec(20)},
		{Type: history.Info, Process: -1, F: "restart", Value: []string{"n2"}, Time: sec(21)},
	}, h[4:]...)...)
	res := Orchestrate(h, orchRuntime(
		OrchPod{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		OrchPod{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
		OrchPod{Pod: "d1-3", Deployment: "d1", Node: "n2", CPU: 300, Start: sec(11), End: sec(21)},
	))
	v := res.First()
	if res.Valid != Invalid || v.What != "not converged" || v.Time != sec(25) {
		t.Fatalf("%s\n%+v", res.Summary, v)
	}
}

func TestOrchestrateOverCapacityAndForgedCall(t *testing.T) {
	rt := orchRuntime(
		OrchPod{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		OrchPod{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
		OrchPod{Pod: "d1-3", Deployment: "d1", Node: "n2", CPU: 300, Start: sec(11)},
	)
	rt.Over = []OrchOver{{Node: "n2", Pod: "d1-3", Used: 1200, At: sec(11)}}
	rt.Served = map[int64]OrchServed{}
	res := Orchestrate(orchHistory(history.OK), rt)
	if res.Valid != Invalid || len(res.Violations) != 2 || res.Violations[0].What != "over capacity" || res.Violations[0].Node != "n2" ||
		res.Violations[1].What != "forged call" || res.Violations[1].Value != "d1-1" {
		t.Fatalf("%s\n%+v", res.Summary, res.Violations)
	}
}

func TestOrchestrateFailedCallExcusedOnlyWithoutReadyPod(t *testing.T) {
	h := orchHistory(history.OK)
	h[5] = history.Op{Type: history.Fail, Process: 1, F: "call", Value: OrchCall{Service: "d1", Call: 1}, Time: sec(30), Node: "n1",
		Error: &history.Error{Code: 11}}
	pods := []OrchPod{
		{Pod: "d1-1", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.5)},
		{Pod: "d1-2", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(0.6)},
		{Pod: "d1-3", Deployment: "d1", Node: "n2", CPU: 300, Start: sec(11)},
	}
	if res := Orchestrate(h, orchRuntime(pods...)); res.Valid != Invalid || res.First().What != "failed call" {
		t.Fatalf("a failed call with pods up: %s", res.Summary)
	}
	// Every pod stopped at 28.5 s and one came back at 29.5 s: the call
	// (29-30 s) had no pod up for the 2 s warm-up.
	for i := range pods {
		pods[i].End = sec(28.5)
	}
	pods = append(pods, OrchPod{Pod: "d1-4", Deployment: "d1", Node: "n1", CPU: 300, Start: sec(29.5)})
	res := Orchestrate(h, orchRuntime(pods...))
	if d := res.Details.(OrchDetails); d.CallsExcused != 1 {
		t.Fatalf("%s", res.Summary)
	}
}
