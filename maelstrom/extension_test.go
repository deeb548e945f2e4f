package maelstrom

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
	"github.com/distsys-curriculum/distsys/maelstrom/services"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// slowKV is lin-kv graded against a store that the workload itself runs
// inside the grader ("slow-kv"), answering after --svc-delay milliseconds:
// the shape of the cache, proxy and load-balancer workloads.
type slowKV struct {
	workload.Instance
	store services.Service
	delay time.Duration
	calls int
}

func (w *slowKV) Services() []string { return []string{"slow-kv"} }

func (w *slowKV) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	w.calls++
	if reply, ok := w.store.Handle(src, body); ok {
		time.AfterFunc(w.delay, func() { send(src, reply) })
	}
}

var lastSlowKV *slowKV

func init() {
	workload.Register(func() workload.Spec {
		s := workload.LinKV()
		s.Name = "test-slow-kv"
		s.Flags = []workload.Flag{{Name: "svc-delay", Default: "5", Usage: "milliseconds before slow-kv answers"}}
		inner := s.New
		s.New = func(p workload.Params) (workload.Instance, error) {
			in, err := inner(p)
			if err != nil {
				return nil, err
			}
			ms, err := strconv.Atoi(p.Flags["svc-delay"])
			if err != nil {
				return nil, err
			}
			lastSlowKV = &slowKV{Instance: in, store: services.NewLinKV(), delay: time.Duration(ms) * time.Millisecond}
			return lastSlowKV, nil
		}
		return s
	})
}

func TestWorkloadServiceAndFlag(t *testing.T) {
	rep := grade(t, testnodes.LinKVProxy("slow-kv"), "-w", "test-slow-kv", "--svc-delay", "20",
		"--node-count", "2", "--concurrency", "4", "--time-limit", "5", "--rate", "20")
	wantVerdict(t, rep, checker.Valid)
	if lastSlowKV.delay != 20*time.Millisecond || lastSlowKV.calls < 50 {
		t.Fatalf("slow-kv: delay %v, %d calls; want 20ms and about 100 calls", lastSlowKV.delay, lastSlowKV.calls)
	}
}

func TestWorkloadFlagBelongsToItsWorkload(t *testing.T) {
	_, err := ParseArgs([]string{"-w", "echo", "--svc-delay", "3", "--bin", "x"})
	if err == nil || !strings.Contains(err.Error(), "belongs to the test-slow-kv workload") {
		t.Fatalf("ParseArgs: %v, want an error naming the flag's workload", err)
	}
	if !strings.Contains(Usage(), "--svc-delay V") {
		t.Fatalf("help does not list the workload flag:\n%s", Usage())
	}
}
