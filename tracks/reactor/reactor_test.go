package reactor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
	"github.com/distsys-curriculum/distsys/tracks/reactor/account"
	"github.com/distsys-curriculum/distsys/tracks/reactor/eventstore"
)

func TestParseArgs(t *testing.T) {
	for _, args := range [][]string{{"--expected-version", "maybe"}, {"--bogus"}, {"extra"}, {"--aggregate-snapshot", "0"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
	o, err := ParseArgs([]string{"--expected-version", "ignore", "--snapshot-every", "50"})
	if err != nil || !o.IgnoreExpected || o.Raft.SnapshotEvery != 50 || !o.Raft.PreVote {
		t.Fatalf("ParseArgs: %+v, %v", o, err)
	}
}

// The state machine: conflicts refused with code 22, a retried command
// applied once, and a restored snapshot that keeps both the log and the
// aggregate snapshots right.
func TestMachine(t *testing.T) {
	m := newMachine(DefaultOptions())
	run := func(client string, seq uint64, ws ...eventstore.Write) outcome {
		data, _ := json.Marshal(command{Client: client, Seq: seq, Writes: ws})
		var o outcome
		if err := json.Unmarshal(m.Apply(0, data).(json.RawMessage), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	w := func(stream string, expected int64, events ...string) eventstore.Write {
		var raw []json.RawMessage
		for _, e := range events {
			raw = append(raw, json.RawMessage(e))
		}
		return eventstore.Write{Stream: stream, Expected: expected, Events: raw}
	}
	if o := run("c1", 1, w("a", 0, `{"id":"1","type":"opened"}`, `{"id":"2","type":"deposited","amount":100}`)); o.Code != 0 || o.Versions[0] != 2 || o.Position != 2 {
		t.Fatalf("open and deposit: %+v", o)
	}
	// Two withdrawals decided on version 2: the second is a conflict.
	if o := run("c2", 1, w("a", 2, `{"id":"3","type":"withdrawn","amount":80}`)); o.Code != 0 {
		t.Fatalf("withdraw: %+v", o)
	}
	if o := run("c3", 1, w("a", 2, `{"id":"4","type":"withdrawn","amount":70}`)); o.Code != 22 {
		t.Fatalf("the second withdrawal on version 2: %+v, want code 22", o)
	}
	// c2's command again (Submit retried it): answered from the session
	// table, not appended twice.
	if o := run("c2", 1, w("a", 2, `{"id":"3","type":"withdrawn","amount":80}`)); o.Code != 0 || m.store.End() != 3 {
		t.Fatalf("a retried append: %+v, log end %d", o, m.store.End())
	}
	data, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := newMachine(DefaultOptions())
	if err := r.Restore(data); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.snaps.State(r.store, "a", 3); st != (account.State{Open: true, Balance: 20}) {
		t.Fatalf("restored state %+v", st)
	}
	if st, _ := r.snaps.State(r.store, "a", 2); st != (account.State{Open: true, Balance: 100}) {
		t.Fatalf("restored state as of version 2: %+v", st)
	}
	m = r
	if o := run("c2", 1, w("a", 2, `{"id":"3","type":"withdrawn","amount":80}`)); o.Code != 0 || m.store.End() != 3 {
		t.Fatalf("a retried append after a restore: %+v, log end %d", o, m.store.End())
	}
}

// Bad requests get an error naming what is wrong, and the node serves on.
func TestBadInput(t *testing.T) {
	c := nodetest.Start(t, node.Program(Configure), nil, nil)
	c.Send("c0", "n0", `{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}`)
	expect := func(want string) {
		t.Helper()
		line, err := c.ReadLine()
		if err != nil || !strings.Contains(line, want) {
			t.Fatalf("got %q (%v), want it to contain %s", line, err, want)
		}
	}
	expect(`"init_ok"`)
	c.Send("c1", "n0", `{"type":"append","msg_id":2}`)
	expect(`"code":12`)
	c.Send("c1", "n0", `{"type":"append","msg_id":3,"writes":[{"stream":"a","expected_version":-1,"events":[{}]}]}`)
	expect(`"code":12`)
	c.Send("c1", "n0", `{"type":"read_all","msg_id":4,"from":1,"max":5000}`)
	expect(`"code":12`)
	c.Send("c1", "n0", `{"type":"as_of","msg_id":5,"stream":"a"}`)
	expect(`"code":12`)
	c.Send("c1", "n0", `{"type":"frobnicate","msg_id":6}`)
	expect(`"code":10`)
	c.Line(`{"src":"c1","dest":"n0","body":{"type":"load","msg_id":7`)
	c.Send("c1", "n0", `{"type":"load","msg_id":8,"stream":"a"}`)
	expect(`"version":0`)
	c.Send("c1", "n0", `{"type":"read_model","msg_id":9}`)
	expect(`"read_model_ok"`)
}
