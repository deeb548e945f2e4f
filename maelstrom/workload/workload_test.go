package workload

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

func TestTopologies(t *testing.T) {
	nodes := []string{"n0", "n1", "n2", "n3", "n4"}
	g, _ := Topology("grid", nodes)
	// 3x3 grid, row-major: n0 n1 n2 / n3 n4
	if !slices.Equal(g["n0"], []string{"n3", "n1"}) || !slices.Equal(g["n4"], []string{"n1", "n3"}) {
		t.Fatalf("grid: %v", g)
	}
	l, _ := Topology("line", nodes)
	if !slices.Equal(l["n0"], []string{"n1"}) || !slices.Equal(l["n2"], []string{"n1", "n3"}) {
		t.Fatalf("line: %v", l)
	}
	if l, _ := Topology("line", nodes[:1]); len(l) != 0 {
		t.Fatalf("line of one node should be empty: %v", l)
	}
	tr, _ := Topology("tree", nodes)
	if !slices.Equal(tr["n0"], []string{"n1", "n2"}) || !slices.Equal(tr["n1"], []string{"n0", "n3", "n4"}) {
		t.Fatalf("tree: %v", tr)
	}
	tot, _ := Topology("total", nodes)
	if len(tot["n3"]) != 4 {
		t.Fatalf("total: %v", tot)
	}
}

func TestDecodeIsStrict(t *testing.T) {
	_, err := Decode([]byte(`{"type":"broadcast_ok","in_reply_to":1,"message":3}`), "broadcast_ok")
	var mal *MalformedError
	if !errors.As(err, &mal) || !strings.Contains(err.Error(), "extra key message in broadcast_ok") {
		t.Fatalf("extra key: %v", err)
	}
	if _, err := Decode([]byte(`{"type":"read_ok","in_reply_to":1}`), "read_ok", Field{Name: "value"}); err == nil {
		t.Fatal("missing key accepted")
	}
	_, err = Decode([]byte(`{"type":"error","in_reply_to":1,"code":30,"text":"conflict","extra":1}`), "txn_ok")
	var rpc *RPCError
	if !errors.As(err, &rpc) || rpc.Code != 30 {
		t.Fatalf("error reply: %v", err)
	}
	if _, err := Decode([]byte(`{"type":"read_ok","in_reply_to":1,"msg_id":4,"value":1}`), "read_ok", Field{Name: "value"}); err != nil {
		t.Fatalf("msg_id must be allowed: %v", err)
	}
}

func TestOutcomeMapping(t *testing.T) {
	cases := []struct {
		err              error
		withErrors, idem bool
		want             history.Type
	}{
		{&RPCError{Code: 30}, true, false, history.Fail},
		{&RPCError{Code: 13}, true, false, history.Info},
		{&RPCError{Code: 13}, true, true, history.Fail},
		{&RPCError{Code: 30}, false, false, history.Info}, // counters: every error may have happened
		{netsim.ErrTimeout, true, false, history.Info},
		{netsim.ErrTimeout, true, true, history.Fail},
		{&MalformedError{Reason: "x"}, true, true, history.Info},
	}
	for _, c := range cases {
		if got := Outcome(c.err, c.withErrors, c.idem); got.Type != c.want {
			t.Errorf("Outcome(%v, %v, %v) = %s, want %s", c.err, c.withErrors, c.idem, got.Type, c.want)
		}
	}
}

func TestLinKVGeneratorGroups(t *testing.T) {
	spec, _ := Lookup("lin-kv")
	inst, _ := spec.New(Params{NodeIDs: []string{"n0", "n1"}, Concurrency: 8, Rand: rand.New(rand.NewPCG(1, 1))})
	// Threads 0-3 form group 0 (0,1 read; 2,3 write/cas), 4-7 group 1.
	if op := inst.Next(0, 0); op.F != "read" || op.Value.(history.KV).Key != 0 {
		t.Fatalf("thread 0: %+v", op)
	}
	if op := inst.Next(2, 2); op.F == "read" {
		t.Fatalf("thread 2 should write or cas: %+v", op)
	}
	if op := inst.Next(4, 4); op.Value.(history.KV).Key != 1 {
		t.Fatalf("group 1 should have its own key: %+v", op)
	}
	// 20 distinct processes retire the key.
	for p := 0; p < 40; p += 2 {
		inst.Next(0, p)
	}
	if op := inst.Next(0, 100); op.Value.(history.KV).Key == 0 {
		t.Fatalf("key 0 not retired after 20 processes: %+v", op)
	}
}

func TestTxnGeneratorRetiresKeys(t *testing.T) {
	spec, _ := Lookup("txn-list-append")
	inst, _ := spec.New(Params{KeyCount: 2, MaxTxnLength: 4, MaxWritesPerKey: 3, Rand: rand.New(rand.NewPCG(1, 1))})
	seen := map[int64][]int64{}
	for range 200 {
		for _, m := range inst.Next(0, 0).Value.(history.Txn) {
			if m.F == "append" {
				seen[m.Key] = append(seen[m.Key], m.Value.(int64))
			}
		}
	}
	for k, vs := range seen {
		if len(vs) > 3 || !slices.IsSorted(vs) || vs[0] != 1 {
			t.Fatalf("key %d got appends %v; want 1, 2, 3 at most", k, vs)
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d keys used; retired keys are not replaced", len(seen))
	}
}
