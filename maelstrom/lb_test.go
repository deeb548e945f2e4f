package maelstrom

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// rrNode balances requests round robin over backends, with no health
// checks, no ejection and no timeouts. With retry, a refused request goes
// to the next backend; without, the refusal goes back to the client.
func rrNode(backends []string, retry bool) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		type req struct {
			m     testnodes.Msg
			tries int
		}
		pending := map[int64]req{}
		next := 0
		send := func(n *testnodes.Node, r req) {
			b := backends[next%len(backends)]
			next++
			pending[n.RPC(b, map[string]any{"type": "serve", "key": r.m.Int("key")})] = r
		}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Type() == "request" {
				send(n, req{m: m})
				return nil
			}
			r, ok := pending[m.Int("in_reply_to")]
			if !ok {
				return nil
			}
			delete(pending, m.Int("in_reply_to"))
			switch {
			case m.Type() == "serve_ok":
				b := strings.Trim(string(m.Field("backend")), `"`)
				n.Reply(r.m, map[string]any{"type": "request_ok", "backend": b})
			case retry && r.tries < len(backends):
				r.tries++
				send(n, r)
			default:
				n.Reply(r.m, map[string]any{"type": "error", "code": m.Int("code"), "text": "the backend refused"})
			}
			return nil
		}}
	})
}

func lbDetails(t *testing.T, rep *Report) checker.LBDetails {
	t.Helper()
	res, ok := rep.Result("lb")
	if !ok {
		t.Fatalf("no lb result\n%s", rep.Summary())
	}
	return res.Details.(checker.LBDetails)
}

func TestLBRoundRobinSpreadsEvenly(t *testing.T) {
	rep := grade(t, rrNode([]string{"b0", "b1", "b2", "b3"}, true), "-w", "lb", "--node-count", "1", "--time-limit", "5",
		"--rate", "80", "--concurrency", "8")
	wantVerdict(t, rep, checker.Valid, "all answered", "CV 0.0")
	d := lbDetails(t, rep)
	if d.Answered < 300 || d.LoadCV > 0.02 || d.Latency.P99 == 0 {
		t.Fatalf("round robin over healthy backends: %+v", d)
	}
}

// TestLBRoundRobinKeepsSendingToDeadBackend: b3 dies at 2 s; the node
// never notices, so it keeps sending it a quarter of the requests, which
// go unanswered. (Enough clients that some are free while others wait
// out their 5 s timeout.)
func TestLBRoundRobinKeepsSendingToDeadBackend(t *testing.T) {
	rep := grade(t, rrNode([]string{"b0", "b1", "b2", "b3"}, true), "-w", "lb", "--node-count", "1", "--time-limit", "8",
		"--rate", "40", "--concurrency", "60", "--kill-at", "2", "--eject-within", "500")
	wantVerdict(t, rep, checker.Invalid, "first problem (lb): request to a dead backend", "n0 sent a request for key",
		"b3 stopped answering at 2.000s", " unanswered);")
	d := lbDetails(t, rep)
	if d.LateRequests == 0 || d.Unanswered == 0 || d.PerBackend["b3"] == 0 {
		t.Fatalf("%+v", d)
	}
	res, _ := rep.Result("lb")
	v := res.Violations[0]
	if v.Node != "n0" || v.Op == nil || v.Value != "b3" || v.Time <= 2500*1e6 {
		t.Fatalf("first violation lacks node, op, value or time: %+v", v)
	}
}

// TestLBFlappingBackend: b2 is down for 1 s in every 2; a node that
// never checks keeps sending to it.
func TestLBFlappingBackend(t *testing.T) {
	rep := grade(t, rrNode([]string{"b0", "b1", "b2", "b3"}, true), "-w", "lb", "--node-count", "1", "--time-limit", "6",
		"--rate", "40", "--concurrency", "60", "--flap", "2", "--eject-within", "500")
	wantVerdict(t, rep, checker.Invalid, "request to a dead backend", "b2 stopped answering")
}

func TestLBRelayedRefusalIsUnanswered(t *testing.T) {
	rep := grade(t, rrNode([]string{"b0", "b1"}, false), "-w", "lb", "--node-count", "1", "--time-limit", "5",
		"--rate", "40", "--latencies", "10,10", "--fail", "0.5")
	wantVerdict(t, rep, checker.Invalid, "first problem (lb): unanswered request", "error 11")
	if d := lbDetails(t, rep); d.Refused == 0 || d.Unanswered == 0 {
		t.Fatalf("%+v", d)
	}
}

// TestLBStickyNodeIsValidButUneven: sending everything to b0, which never
// fails, breaks no rule; the load spread shows it.
func TestLBStickyNodeIsValidButUneven(t *testing.T) {
	rep := grade(t, rrNode([]string{"b0"}, false), "-w", "lb", "--node-count", "2", "--time-limit", "5",
		"--rate", "40", "--kill-at", "1", "--flap", "2", "--fail", "0.5")
	wantVerdict(t, rep, checker.Valid, "b0:", "b1:0")
	if d := lbDetails(t, rep); d.LoadCV < 0.99 || d.PerBackend["b3"] != 0 {
		t.Fatalf("%+v", d)
	}
}

func TestLBFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--latencies", "10"}, {"--latencies", "a,b"}, {"--fail", "2"}, {"--flap", "3", "--latencies", "1,1,1"},
	} {
		opts, err := ParseArgs(append([]string{"-w", "lb", "--time-limit", "1"}, args...))
		if err == nil {
			opts.StoreDir = ""
			synctest.Test(t, func(t *testing.T) {
				_, err = Run(context.Background(), opts, InProcess{Program: rrNode([]string{"b0"}, false)})
			})
		}
		if err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
