package maelstrom

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// relayNode forwards every request to the origin and relays the answer:
// no retries, no de-duplication, no collapsing. With staleGets it answers
// gets from the last value it relayed for the key, when it has one.
func relayNode(staleGets bool) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		pending := map[int64]testnodes.Msg{}
		last := map[int64]int64{}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "origin" {
				req, ok := pending[m.Int("in_reply_to")]
				if !ok {
					return nil
				}
				delete(pending, m.Int("in_reply_to"))
				if m.Type() == "error" {
					n.Reply(req, map[string]any{"type": "error", "code": m.Int("code"), "text": "origin refused"})
					return nil
				}
				last[req.Int("key")] = m.Int("value")
				n.Reply(req, map[string]any{"type": m.Type(), "value": m.Int("value")})
				return nil
			}
			if v, ok := last[m.Int("key")]; staleGets && ok && m.Type() == "get" {
				n.Reply(m, map[string]any{"type": "get_ok", "value": v})
				return nil
			}
			body := map[string]any{"type": m.Type(), "key": m.Int("key")}
			if id := m.Field("request_id"); id != nil {
				body["request_id"] = id
			}
			pending[n.RPC("origin", body)] = m
			return nil
		}}
	})
}

func proxyDetails(t *testing.T, rep *Report) checker.ProxyDetails {
	t.Helper()
	res, ok := rep.Result("proxy")
	if !ok {
		t.Fatalf("no proxy result\n%s", rep.Summary())
	}
	return res.Details.(checker.ProxyDetails)
}

func TestProxyRelay(t *testing.T) {
	rep := grade(t, relayNode(false), "-w", "proxy", "--node-count", "2", "--time-limit", "5", "--rate", "50",
		"--concurrency", "8", "--origin-latency", "30")
	wantVerdict(t, rep, checker.Valid, "origin calls per op", "0 duplicate effects")
	if d := proxyDetails(t, rep); d.OriginCallsPerOp < 0.99 || d.Incrs == 0 || d.Gets == 0 {
		t.Fatalf("a relay: %+v", d)
	}
}

// TestProxyRetriedWithoutDedup: clients give up after 40 ms while the
// origin takes 15 to 45 ms; their retries reach the origin again.
func TestProxyRetriedWithoutDedup(t *testing.T) {
	rep := grade(t, relayNode(false), "-w", "proxy", "--node-count", "2", "--time-limit", "5", "--rate", "50",
		"--concurrency", "8", "--origin-latency", "30", "--attempt-timeout", "40")
	wantVerdict(t, rep, checker.Invalid, "first problem (proxy): duplicate effect", "incremented key")
	if d := proxyDetails(t, rep); d.ClientRetries == 0 || d.DuplicateEffects == 0 {
		t.Fatalf("retries %d, duplicates %d", d.ClientRetries, d.DuplicateEffects)
	}
}

func TestProxyBurstOverloadsOrigin(t *testing.T) {
	rep := grade(t, relayNode(false), "-w", "proxy", "--node-count", "2", "--time-limit", "6", "--rate", "100",
		"--concurrency", "20", "--origin-latency", "100", "--burst-every", "2", "--burst-length", "1000")
	wantVerdict(t, rep, checker.Invalid, "origin overload", "should share one origin call")
	if d := proxyDetails(t, rep); d.HotClientGets < 50 || d.HotRatio < 0.9 {
		t.Fatalf("hot key: %d client gets, ratio %.2f", d.HotClientGets, d.HotRatio)
	}
}

func TestProxyStaleGet(t *testing.T) {
	rep := grade(t, relayNode(true), "-w", "proxy", "--node-count", "2", "--time-limit", "5", "--rate", "50",
		"--concurrency", "8", "--keys", "3")
	wantVerdict(t, rep, checker.Invalid, "wrong value", "the origin's value was")
}

func TestProxyOriginRefuses(t *testing.T) {
	rep := grade(t, relayNode(false), "-w", "proxy", "--node-count", "1", "--time-limit", "5", "--rate", "50",
		"--origin-fail", "0.5", "--origin-latency", "10")
	wantVerdict(t, rep, checker.Valid)
	if d := proxyDetails(t, rep); d.OriginRefused == 0 {
		t.Fatal("the origin refused nothing")
	}
}
