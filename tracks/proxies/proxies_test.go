package proxies

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
)

func TestParseArgs(t *testing.T) {
	if o, err := ParseArgs([]string{"--forward", "dedup"}); err != nil || o.Forward != "dedup" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range [][]string{{"--forward", "teleport"}, {"--deadline", "0s"}, {"extra"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestBadRequests: requests without their fields, unknown types and
// garbage get errors, and the node keeps serving.
func TestBadRequests(t *testing.T) {
	c := nodetest.Start(t, node.Program(Configure), nil, nil)
	c.Send("c0", "n0", `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
	c.Send("c1", "n0", `{"type":"get","msg_id":2}`)
	c.Send("c1", "n0", `{"type":"incr","msg_id":3,"key":1}`)
	c.Line(`]]`)
	c.Send("c1", "n0", `{"type":"put","msg_id":4}`)
	var out []string
	for range 4 {
		line, err := c.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	all := strings.Join(out, "")
	if strings.Count(all, `"code":12`) != 2 || !strings.Contains(all, `"code":10`) {
		t.Fatalf("replies:\n%s", all)
	}
}
