package queues

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
	"github.com/distsys-curriculum/distsys/internal/program"
)

// reply sends a body to the node and decodes its answer's body.
func reply(t *testing.T, c *nodetest.Conn, body string) map[string]json.RawMessage {
	t.Helper()
	c.Send("c1", "n0", body)
	line, err := c.ReadLine()
	if err != nil {
		t.Fatalf("no reply to %s: %v", body, err)
	}
	var msg struct {
		Body map[string]json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal([]byte(line), &msg); err != nil {
		t.Fatalf("reply %q: %v", line, err)
	}
	return msg.Body
}

// A single node's queue survives a kill: its journal is replayed, so sent
// messages and acknowledgements are still there, and so is the
// de-duplication table.
func TestJournalSurvivesKill(t *testing.T) {
	env := map[string]string{program.EnvDataDir: t.TempDir()}
	args := []string{"--replicate", "none", "--delivery", "exactly-once"}
	start := func() *nodetest.Conn {
		c := nodetest.Start(t, node.Program(Configure), args, env)
		reply(t, c, `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
		return c
	}
	c := start()
	for i, m := range []string{"1", "2", "3"} {
		r := reply(t, c, `{"type":"send","msg_id":`+string(rune('2'+i))+`,"queue":"q","msg":`+m+`,"dedup":"d`+m+`"}`)
		if string(r["type"]) != `"send_ok"` {
			t.Fatalf("send %s: %v", m, r)
		}
	}
	got := reply(t, c, `{"type":"receive","msg_id":10,"queue":"q","max":1,"visibility_ms":0}`)
	var ds []delivery
	if err := json.Unmarshal(got["msgs"], &ds); err != nil || len(ds) != 1 {
		t.Fatalf("receive: %s", got["msgs"])
	}
	reply(t, c, `{"type":"ack","msg_id":11,"queue":"q","receipts":["`+ds[0].Receipt+`"]}`)
	c.Kill()

	c = start()
	again := reply(t, c, `{"type":"send","msg_id":20,"queue":"q","msg":2,"dedup":"d2"}`)
	if string(again["id"]) != `"m2"` {
		t.Fatalf("re-send after restart got id %s, want m2 (de-duplicated)", again["id"])
	}
	rest := reply(t, c, `{"type":"receive","msg_id":21,"queue":"q","max":10,"visibility_ms":1000}`)
	if s := string(rest["msgs"]); !strings.Contains(s, `"msg":2`) || !strings.Contains(s, `"msg":3`) || strings.Contains(s, `"msg":1`) {
		t.Fatalf("after restart: %s, want messages 2 and 3 only", s)
	}
	c.Kill()
}
