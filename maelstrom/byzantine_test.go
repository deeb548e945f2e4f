package maelstrom

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// trustingKV is a lin-kv node that trusts its peers: the first node holds
// the map, the others forward each operation to it as
// {"type":"fwd","op":{...}} and relay its {"type":"fwd_ok","result":{...}}.
// Correct while every node tells the truth; one liar makes it lie.
func trustingKV() program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		kv := map[string]json.RawMessage{}
		waiting := map[int64]testnodes.Msg{}
		apply := func(op map[string]json.RawMessage) map[string]any {
			var f string
			_ = json.Unmarshal(op["type"], &f)
			if op["f"] != nil {
				_ = json.Unmarshal(op["f"], &f)
			}
			key := string(op["key"])
			switch f {
			case "read":
				if v, ok := kv[key]; ok {
					return map[string]any{"type": "read_ok", "value": v}
				}
				return map[string]any{"type": "error", "code": 20, "text": "not found"}
			case "write":
				kv[key] = op["value"]
				return map[string]any{"type": "write_ok"}
			case "cas":
				v, ok := kv[key]
				if !ok {
					return map[string]any{"type": "error", "code": 20, "text": "not found"}
				}
				if !bytes.Equal(v, op["from"]) {
					return map[string]any{"type": "error", "code": 22, "text": "mismatch"}
				}
				kv[key] = op["to"]
				return map[string]any{"type": "cas_ok"}
			}
			return map[string]any{"type": "error", "code": 10, "text": "unknown op " + f}
		}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			first := n.IDs[0]
			switch m.Type() {
			case "fwd":
				var op map[string]json.RawMessage
				if json.Unmarshal(m.Body["op"], &op) != nil {
					return nil
				}
				n.Reply(m, map[string]any{"type": "fwd_ok", "result": apply(op)})
			case "fwd_ok":
				var irt int64
				_ = json.Unmarshal(m.Body["in_reply_to"], &irt)
				req, ok := waiting[irt]
				if !ok {
					return nil
				}
				delete(waiting, irt)
				var res map[string]any
				if json.Unmarshal(m.Body["result"], &res) != nil {
					return nil
				}
				n.Reply(req, res)
			default:
				if n.ID == first {
					n.Reply(m, apply(m.Body))
					return nil
				}
				op := map[string]any{"f": m.Type()}
				for _, k := range []string{"key", "value", "from", "to"} {
					if v, ok := m.Body[k]; ok {
						op[k] = v
					}
				}
				waiting[n.RPC(first, map[string]any{"type": "fwd", "op": op})] = m
			}
			return nil
		}}
	})
}

var trustingArgs = []string{"-w", "lin-kv", "--node-count", "3", "--time-limit", "5", "--rate", "40",
	"--concurrency", "2n", "--latency", "2", "--nemesis-interval", "1"}

func TestTrustingKVIsLinearizableWithoutLiars(t *testing.T) {
	wantVerdict(t, grade(t, trustingKV(), trustingArgs...), checker.Valid)
}

// One liar (the fault's default count is (n-1)/3 = 0 for three nodes, so
// it is set) that only changes fields: the forwarded commands and the
// relayed results go wrong, and the checker sees it.
func TestByzantineLiarBreaksATrustingNode(t *testing.T) {
	args := append(append([]string(nil), trustingArgs...), "--nemesis", "byzantine", "--byzantine-count", "1", "--byzantine-lies", "mutate")
	rep := grade(t, trustingKV(), args...)
	wantVerdict(t, rep, checker.Invalid, "start-byzantine", "not linearizable", `"mutate":`)
}

// A liar that only tampers with the payload (the forwarded op's key or
// value, the relayed result's value) leaves every message well-formed:
// the node answers as usual, with values nobody wrote.
func TestByzantineTamperBreaksATrustingNode(t *testing.T) {
	args := append(append([]string(nil), trustingArgs...), "--nemesis", "byzantine", "--byzantine-count", "1", "--byzantine-lies", "tamper")
	rep := grade(t, trustingKV(), args...)
	wantVerdict(t, rep, checker.Invalid, "start-byzantine", "not linearizable", `"tamper":`)
}

// Silence alone (an honest node that stops talking) never makes the
// trusting node lie: its operations fail or time out, nothing more.
func TestByzantineSilenceOnlyCostsAvailability(t *testing.T) {
	args := append(append([]string(nil), trustingArgs...), "--nemesis", "byzantine", "--byzantine-count", "1", "--byzantine-lies", "silence")
	rep := grade(t, trustingKV(), args...)
	if rep.Crash != nil {
		t.Fatalf("run crashed\n%s", rep.Summary())
	}
	if res, _ := rep.Result("linearizable"); res.Valid != checker.Valid {
		t.Fatalf("silence made the history non-linearizable\n%s", rep.Summary())
	}
	if !bytes.Contains([]byte(rep.Summary()), []byte(`"silence":`)) {
		t.Fatalf("no silence was told\n%s", rep.Summary())
	}
}

func TestByzantineFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-w", "lin-kv", "--bin", "x", "--byzantine-lies", "flattery"},
		{"-w", "lin-kv", "--bin", "x", "--byzantine-count", "-1"},
	} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
}
