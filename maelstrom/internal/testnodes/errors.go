package testnodes

import "github.com/distsys-curriculum/distsys/internal/program"

// Errors answers the errors workload correctly: echo, error 12 for an echo
// without its field, error 10 for any other type, and it skips (logging
// "bad line" or "skipping") anything it cannot answer.
func Errors() program.Program {
	return Program(func() Handlers {
		return Handlers{Handle: func(n *Node, m Msg) error {
			if m.Src == "" || m.Body == nil || m.Int("msg_id") == 0 {
				n.Logf("skipping a message I cannot answer")
				return nil
			}
			switch _, hasEcho := m.Body["echo"]; {
			case m.Type() != "echo":
				n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "unknown type " + m.Type()})
			case !hasEcho:
				n.Reply(m, map[string]any{"type": "error", "code": 12, "text": "echo without echo"})
			default:
				n.Reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
			}
			return nil
		}}
	})
}
