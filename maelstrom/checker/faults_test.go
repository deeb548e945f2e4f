package checker

import (
	"reflect"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func faultStep(at time.Duration, f string, nodes ...string) history.Op {
	var v any
	if nodes != nil {
		v = nodes
	}
	return history.Op{Process: -1, Type: history.Info, F: f, Value: v, Time: at}
}

const second = time.Second

func TestDownSpansKeepTheFirstKillAndEndAtTheRestart(t *testing.T) {
	h := history.History{
		faultStep(1*second, "kill", "n1"),
		faultStep(2*second, "kill", "n1", "n2"), // n1 is down already: still down since 1s
		faultStep(3*second, "restart", "n1"),
		faultStep(4*second, "corrupt", "n3"),
		faultStep(5*second, "restart", "n3"),
	}
	got := DownSpans(h, 10*second, false)
	want := map[string][]Window{
		"n1": {{1 * second, 3 * second}},
		"n2": {{2 * second, 10 * second}}, // never restarted: down to the end
		"n3": {{4 * second, 5 * second}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DownSpans = %v, want %v", got, want)
	}
}

func TestDownStepsPausesResumesAndRestarts(t *testing.T) {
	h := history.History{
		faultStep(1*second, "pause", "n1", "n2"),
		faultStep(2*second, "kill", "n1"),
		faultStep(3*second, "resume", "n1", "n2"), // n1 stays down: it is killed
		faultStep(4*second, "pause", "n3"),
		faultStep(5*second, "restart", "n1", "n3"), // a restart also ends n3's pause
		faultStep(6*second, "start-partition"),
	}
	got := DownSpans(h, 10*second, true)
	want := map[string][]Window{
		"n1": {{1 * second, 5 * second}},
		"n2": {{1 * second, 3 * second}},
		"n3": {{4 * second, 5 * second}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DownSpans with pauses = %v, want %v", got, want)
	}
	if steps := DownSteps(h, true); len(steps) != 5 || len(steps[4].Down) != 0 {
		t.Fatalf("DownSteps = %v, want 5 steps ending with no node down", steps)
	}
	noPauses := DownSpans(h, 10*second, false)
	if want := (map[string][]Window{"n1": {{2 * second, 5 * second}}}); !reflect.DeepEqual(noPauses, want) {
		t.Fatalf("DownSpans without pauses = %v, want %v", noPauses, want)
	}
}

func TestFaultWindowsComplementHealthyWindows(t *testing.T) {
	h := history.History{
		faultStep(1*second, "start-partition"),
		faultStep(2*second, "kill", "n1"),
		faultStep(3*second, "stop-partition"),
		faultStep(4*second, "restart", "n1"),
		faultStep(6*second, "pause", "n2"),
	}
	if got, want := HealthyWindows(h, 10*second), []Window{{0, 1 * second}, {4 * second, 6 * second}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("HealthyWindows = %v, want %v", got, want)
	}
	if got, want := FaultWindows(h, 10*second), []Window{{1 * second, 4 * second}, {6 * second, 10 * second}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("FaultWindows = %v, want %v", got, want)
	}
	if got := FaultWindows(nil, 10*second); len(got) != 0 {
		t.Fatalf("FaultWindows of a run without faults = %v", got)
	}
}
