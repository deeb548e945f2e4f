package loadbalancers

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
)

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"--balance", "weighted", "--backends", "x,y", "--weights", "3,1", "--health-interval", "0"})
	if err != nil || o.Balance != "weighted" || len(o.Backends) != 2 || o.Weights[0] != 3 || o.HealthInterval != 0 {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range [][]string{{"--balance", "random"}, {"--weights", "1,2"}, {"--weights", "0,1,1,1"},
		{"--attempts", "0"}, {"--attempt-timeout", "0s"}, {"extra"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRequestRelayedAndRetried: a request goes to a backend; when that
// backend refuses, the node tries another and answers with its name.
func TestRequestRelayedAndRetried(t *testing.T) {
	c := nodetest.Start(t, node.Program(Configure), []string{"--balance", "round-robin", "--backends", "b0,b1", "--health-interval", "0"}, nil)
	c.Send("c0", "n0", `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
	if line, _ := c.ReadLine(); !strings.Contains(line, "init_ok") {
		t.Fatalf("init: %s", line)
	}
	c.Send("c1", "n0", `{"type":"request","msg_id":2,"key":7}`)
	first, _ := c.ReadLine()
	if !strings.Contains(first, `"dest":"b0"`) || !strings.Contains(first, `"type":"serve"`) || !strings.Contains(first, `"key":7`) {
		t.Fatalf("first attempt: %s", first)
	}
	id := msgID(t, first)
	c.Send("b0", "n0", `{"type":"error","in_reply_to":`+id+`,"code":11,"text":"busy"}`)
	second, _ := c.ReadLine()
	if !strings.Contains(second, `"dest":"b1"`) {
		t.Fatalf("retry: %s", second)
	}
	c.Send("b1", "n0", `{"type":"serve_ok","in_reply_to":`+msgID(t, second)+`,"backend":"b1"}`)
	reply, _ := c.ReadLine()
	if !strings.Contains(reply, `"type":"request_ok"`) || !strings.Contains(reply, `"backend":"b1"`) || !strings.Contains(reply, `"in_reply_to":2`) {
		t.Fatalf("reply: %s", reply)
	}
}

func msgID(t *testing.T, line string) string {
	t.Helper()
	i := strings.Index(line, `"msg_id":`)
	if i < 0 {
		t.Fatalf("no msg_id in %s", line)
	}
	rest := line[i+len(`"msg_id":`):]
	return rest[:strings.IndexAny(rest, ",}")]
}

// TestBadRequests: a request without a key, an unknown type and garbage
// get errors, and the node keeps serving.
func TestBadRequests(t *testing.T) {
	c := nodetest.Start(t, node.Program(Configure), []string{"--health-interval", "0"}, nil)
	c.Send("c0", "n0", `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
	c.Send("c1", "n0", `{"type":"request","msg_id":2}`)
	c.Line(`]]`)
	c.Send("c1", "n0", `{"type":"put","msg_id":4}`)
	var out []string
	for range 3 {
		line, err := c.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	all := strings.Join(out, "")
	if !strings.Contains(all, `"code":12`) || !strings.Contains(all, `"code":10`) {
		t.Fatalf("replies:\n%s", all)
	}
}
