package maelstrom

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

type orchFlaw int

const (
	orchCorrect      orchFlaw = iota
	orchNoCapacity            // every pod on n0, whatever fits
	orchIgnoresScale          // answers scale_ok and changes nothing
	orchForgesCalls           // answers calls without asking a pod
)

// orchNode is an orchestrator of one machine, its own: it keeps the desired replicas and
// starts and stops pods named <deployment>-<i> on its own runtime. Calls
// go to a running pod of the service. Other nodes refuse calls.
func orchNode(flaw orchFlaw) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		type dep struct {
			replicas, cpu int
			gen           int64
		}
		desired := map[string]dep{}
		running := map[string]string{} // pod -> deployment
		pending := map[int64]testnodes.Msg{}
		reconcile := func(n *testnodes.Node) {
			want := map[string]int{}
			for name, d := range desired {
				for i := range d.replicas {
					pod := fmt.Sprintf("%s-%d", name, i)
					want[pod] = d.cpu
				}
			}
			for pod := range running {
				if _, ok := want[pod]; !ok {
					n.RPC("runtime", map[string]any{"type": "pod_stop", "pod": pod})
					delete(running, pod)
				}
			}
			pods := make([]string, 0, len(want))
			for pod := range want {
				pods = append(pods, pod)
			}
			sort.Strings(pods)
			for _, pod := range pods {
				if _, ok := running[pod]; !ok {
					dep := pod[:strings.LastIndex(pod, "-")]
					n.RPC("runtime", map[string]any{"type": "pod_start", "pod": pod, "deployment": dep, "cpu": want[pod]})
					running[pod] = dep
				}
			}
		}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			str := func(k string) string {
				var s string
				_ = json.Unmarshal(m.Field(k), &s)
				return s
			}
			switch m.Type() {
			case "apply", "scale", "delete_deployment":
				name := str("deployment")
				d, exists := desired[name]
				if m.Type() != "apply" && !exists {
					n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no deployment " + name})
					return nil
				}
				if gen := m.Int("generation"); gen > d.gen {
					switch m.Type() {
					case "apply":
						desired[name] = dep{replicas: int(m.Int("replicas")), cpu: int(m.Int("cpu")), gen: gen}
					case "scale":
						if flaw != orchIgnoresScale {
							d.replicas, d.gen = int(m.Int("replicas")), gen
							desired[name] = d
						}
					case "delete_deployment":
						delete(desired, name)
					}
				}
				reconcile(n)
				n.Reply(m, map[string]any{"type": m.Type() + "_ok"})
			case "call":
				if flaw == orchForgesCalls {
					n.Reply(m, map[string]any{"type": "call_ok", "pod": str("service") + "-0"})
					return nil
				}
				var pods []string
				for pod, d := range running {
					if d == str("service") {
						pods = append(pods, pod)
					}
				}
				if len(pods) == 0 {
					n.Reply(m, map[string]any{"type": "error", "code": 11, "text": "no pod of " + str("service")})
					return nil
				}
				sort.Strings(pods)
				pending[n.RPC("runtime", map[string]any{"type": "pod_call", "pod": pods[int(m.Int("call"))%len(pods)], "call": m.Int("call")})] = m
			case "pod_call_ok", "error":
				req, ok := pending[m.Int("in_reply_to")]
				if !ok {
					return nil
				}
				delete(pending, m.Int("in_reply_to"))
				if m.Type() == "error" {
					n.Reply(req, map[string]any{"type": "error", "code": 11, "text": "the pod refused"})
					return nil
				}
				var pod string
				_ = json.Unmarshal(m.Field("pod"), &pod)
				n.Reply(req, map[string]any{"type": "call_ok", "pod": pod})
			}
			return nil
		}}
	})
}

func orchResult(t *testing.T, rep *Report) (checker.Result, checker.OrchDetails) {
	t.Helper()
	res, ok := rep.Result("orchestrate")
	if !ok {
		t.Fatalf("no orchestrate result\n%s", rep.Summary())
	}
	return res, res.Details.(checker.OrchDetails)
}

func TestOrchestrateCorrectSingleMachine(t *testing.T) {
	rep := grade(t, orchNode(orchCorrect), "-w", "orchestrate", "--node-count", "1", "--time-limit", "12",
		"--rate", "20", "--concurrency", "3", "--change-interval", "1")
	wantVerdict(t, rep, checker.Valid, "quiet windows", "first-fit decreasing")
	_, d := orchResult(t, rep)
	if d.Changes < 5 || d.Windows < 1 || d.CallsOK == 0 || d.PodStarts == 0 || d.Packing == nil || d.Packing.NodesUsed != 1 {
		t.Fatalf("%+v", d)
	}
}

// TestOrchestrateOverCapacity: everything runs on n0 of three machines
// (one client thread, on n0, so n0 gets every change); the desired
// requests take up to 60% of the cluster, more than n0 has.
func TestOrchestrateOverCapacity(t *testing.T) {
	rep := grade(t, orchNode(orchNoCapacity), "-w", "orchestrate", "--node-count", "3", "--time-limit", "15",
		"--rate", "20", "--concurrency", "1", "--change-interval", "0.5")
	wantVerdict(t, rep, checker.Invalid, "first problem (orchestrate): over capacity", "its capacity is 1000m")
	res, d := orchResult(t, rep)
	v := res.Violations[0]
	if d.OverCapacity == 0 || v.Node != "n0" || v.Value == nil || v.Time <= 0 {
		t.Fatalf("first violation lacks node, value or time: %+v (%+v)", v, d)
	}
}

func TestOrchestrateIgnoredScaleNeverConverges(t *testing.T) {
	rep := grade(t, orchNode(orchIgnoresScale), "-w", "orchestrate", "--node-count", "1", "--time-limit", "20",
		"--rate", "20", "--concurrency", "3", "--change-interval", "2", "--bound", "1000")
	wantVerdict(t, rep, checker.Invalid, "not converged", "wanted")
	res, _ := orchResult(t, rep)
	v := res.Violations[0]
	if v.What != "not converged" || v.Node != "n0" || v.Op == nil || v.Op.F != "scale" || v.Value == nil || v.Time <= 0 {
		t.Fatalf("first violation lacks node, op, value or time: %+v", v)
	}
}

func TestOrchestrateForgedCall(t *testing.T) {
	rep := grade(t, orchNode(orchForgesCalls), "-w", "orchestrate", "--node-count", "1", "--time-limit", "6",
		"--rate", "20", "--concurrency", "3")
	wantVerdict(t, rep, checker.Invalid, "forged call")
	res, _ := orchResult(t, rep)
	v := res.Violations[0]
	if v.What != "forged call" || v.Node != "n0" || v.Op == nil || v.Value == nil || v.Time <= 0 {
		t.Fatalf("%+v", v)
	}
}

// TestOrchestrateKillLosesPods: a restarted machine has lost its pods,
// and this node kept its desired state in memory only: it never brings
// them back.
func TestOrchestrateKillLosesPods(t *testing.T) {
	rep := grade(t, orchNode(orchCorrect), "-w", "orchestrate", "--node-count", "1", "--time-limit", "20",
		"--rate", "20", "--concurrency", "3", "--change-interval", "2", "--fill", "0.9", "--nemesis", "kill", "--nemesis-interval", "3")
	wantVerdict(t, rep, checker.Invalid, "not converged")
}

func TestOrchestrateFirstFitDecreasing(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		want  int
	}{
		{nil, 0}, {[]int{1000}, 1}, {[]int{600, 600}, 2}, {[]int{500, 300, 200, 500}, 2},
		{[]int{400, 400, 400, 300, 300, 200}, 2}, {[]int{700, 400, 300, 300, 300}, 2}, {[]int{510, 510, 260, 260, 260, 260, 200, 200}, 3}, {[]int{1500}, 1},
	} {
		if got := checker.FirstFitDecreasing(c.sizes, 1000); got != c.want {
			t.Errorf("FFD(%v) = %d, want %d", c.sizes, got, c.want)
		}
	}
}
