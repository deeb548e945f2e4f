package workload

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// cannedCaller answers every RPC with one fixed reply body.
type cannedCaller struct{ reply string }

func (cannedCaller) ID() string   { return "c1" }
func (cannedCaller) Node() string { return "n0" }
func (c cannedCaller) RPC(context.Context, map[string]any) (json.RawMessage, error) {
	return json.RawMessage(c.reply), nil
}

func TestElectionStatusReplies(t *testing.T) {
	w := &election{}
	ok := w.Invoke(context.Background(), cannedCaller{`{"type":"status_ok","in_reply_to":1,"role":"follower","term":3,"leader":"n2"}`}, 0, Invocation{F: "status"})
	if ok.Type != history.OK || ok.Value != (checker.ElectionStatus{Role: "follower", Term: 3, Leader: "n2"}) {
		t.Fatalf("valid status: %+v", ok)
	}
	for name, reply := range map[string]string{
		"unknown role":  `{"type":"status_ok","in_reply_to":1,"role":"boss","term":3}`,
		"negative term": `{"type":"status_ok","in_reply_to":1,"role":"leader","term":-1}`,
		"no term":       `{"type":"status_ok","in_reply_to":1,"role":"leader"}`,
		"extra key":     `{"type":"status_ok","in_reply_to":1,"role":"leader","term":1,"votes":3}`,
		"leader number": `{"type":"status_ok","in_reply_to":1,"role":"follower","term":1,"leader":2}`,
	} {
		c := w.Invoke(context.Background(), cannedCaller{reply}, 0, Invocation{F: "status"})
		if c.Type == history.OK || c.Error == nil || c.Error.Name != "malformed-response" {
			t.Errorf("%s: %+v, want a malformed response", name, c)
		}
	}
}

func TestElectionCountsTrafficPerLink(t *testing.T) {
	w := &election{links: map[[2]string]*checker.LinkTraffic{}}
	w.ObserveMessage(10, "n0", "n1", json.RawMessage(`{"type":"raft_heartbeat"}`))
	w.ObserveMessage(20, "n0", "n1", json.RawMessage(`{"type":"raft_heartbeat"}`))
	w.ObserveMessage(30, "n1", "n0", json.RawMessage(`{"type":"raft_heartbeat_resp"}`))
	got := w.traffic()
	if len(got) != 2 || got[0].Src != "n0" || got[0].Count != 2 || got[0].ByType["raft_heartbeat"] != 2 || got[1].Count != 1 {
		t.Fatalf("traffic %+v", got)
	}
	if s := got[0].Sends; len(s) != 2 || s[0] != (checker.Send{At: 10, Type: "raft_heartbeat"}) || s[1].At != 20 {
		t.Fatalf("sends n0->n1 %+v, want the two heartbeats at 10 and 20", s)
	}
}

func TestLogReplies(t *testing.T) {
	w := &raftLog{}
	c := w.Invoke(context.Background(), cannedCaller{`{"type":"append_ok","in_reply_to":1,"index":7}`}, 0, Invocation{F: "append", Value: checker.LogAppend{Value: 9}})
	if v, _ := c.Value.(checker.LogAppend); c.Type != history.OK || v.Value != 9 || v.Index == nil || *v.Index != 7 {
		t.Fatalf("append_ok: %+v", c)
	}
	c = w.Invoke(context.Background(), cannedCaller{`{"type":"error","in_reply_to":1,"code":11,"text":"not the leader; try n2"}`}, 0, Invocation{F: "append", Value: checker.LogAppend{Value: 9}})
	if c.Type != history.Fail {
		t.Fatalf("error 11 must be a failed append (definite): %+v", c)
	}
	c = w.Invoke(context.Background(), cannedCaller{`{"type":"error","in_reply_to":1,"code":0,"text":"timeout"}`}, 0, Invocation{F: "append", Value: checker.LogAppend{Value: 9}})
	if c.Type != history.Info {
		t.Fatalf("a timeout must leave the append unknown: %+v", c)
	}
	c = w.Invoke(context.Background(), cannedCaller{`{"type":"read_log_ok","in_reply_to":1,"log":[3,1,2]}`}, 0, Invocation{F: "read_log"})
	if l, _ := c.Value.([]int64); c.Type != history.OK || len(l) != 3 || l[0] != 3 {
		t.Fatalf("read_log_ok: %+v", c)
	}
}
