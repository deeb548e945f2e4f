package sharder

import (
	"encoding/json"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

// The replica group's state machine, driven by hand: the fence, the
// hand-off in configuration order, and the session table moving with the
// shard.

type groupHarness struct {
	t     *testing.T
	g     *group
	index uint64
}

func (h *groupHarness) apply(c groupCommand) store.Outcome {
	h.t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		h.t.Fatal(err)
	}
	h.index++
	var out store.Outcome
	raw, err := json.Marshal(h.g.Apply(h.index, data))
	if err != nil {
		h.t.Fatal(err)
	}
	// Sessions return the outcome already encoded.
	var rm json.RawMessage
	if err := json.Unmarshal(raw, &rm); err == nil && len(rm) > 0 && rm[0] == '"' {
		var s string
		_ = json.Unmarshal(rm, &s)
		raw = []byte(s)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("outcome %s: %v", raw, err)
	}
	return out
}

func (h *groupHarness) kv(client string, seq uint64, op, key string, vals ...string) store.Outcome {
	h.t.Helper()
	c := store.Command{Client: client, Seq: seq, Op: op, Key: key}
	switch op {
	case "write":
		c.Value = json.RawMessage(vals[0])
	case "cas":
		c.From, c.To = json.RawMessage(vals[0]), json.RawMessage(vals[1])
	}
	raw, _ := json.Marshal(c)
	return h.apply(groupCommand{Op: "kv", KV: raw})
}

func (h *groupHarness) config(cfg Config) { h.apply(groupCommand{Op: "config", Config: &cfg}) }

func cfgWith(num int, owner func(s int) int) Config {
	c := Config{Num: num, Groups: map[int][]string{1: {"n3"}, 2: {"n6"}}}
	for s := range NShards {
		c.Shards[s] = owner(s)
	}
	return c
}

func TestMigrationFencedWithSessions(t *testing.T) {
	old := &groupHarness{t: t, g: newGroup(1, false)}
	neu := &groupHarness{t: t, g: newGroup(2, false)}
	c1 := cfgWith(1, func(int) int { return 1 })
	c2 := cfgWith(2, func(s int) int { // shard 3 moves to group 2
		if s == 3 {
			return 2
		}
		return 1
	})
	old.config(c1)
	neu.config(c1)
	if out := old.kv("c1", 1, "write", "3", "7"); out.Code != 0 {
		t.Fatalf("write on the owner: %+v", out)
	}
	if out := old.kv("c1", 2, "cas", "3", "7", "8"); out.Code != 0 {
		t.Fatalf("cas on the owner: %+v", out)
	}
	if out := neu.kv("c1", 3, "write", "3", "1"); out != wrongGroup {
		t.Fatalf("group 2 accepted a write for a shard it does not own: %+v", out)
	}
	// The new owner reaches configuration 2 first: it must not get a copy
	// of shard 3 until the old owner stopped serving it.
	neu.config(c2)
	if _, err := old.g.pullable(3, 2); err == nil {
		t.Fatalf("the old owner handed out shard 3 while still in configuration 1")
	}
	if out := neu.kv("c1", 3, "write", "3", "1"); out != wrongGroup {
		t.Fatalf("group 2 served shard 3 before installing it: %+v", out)
	}
	old.config(c2)
	if out := old.kv("c2", 1, "write", "3", "9"); out != wrongGroup {
		t.Fatalf("the old owner accepted a write after handing shard 3 off: %+v", out)
	}
	if out := old.kv("c2", 2, "write", "4", "9"); out.Code != 0 {
		t.Fatalf("shard 4 stayed with group 1 and must keep serving: %+v", out)
	}
	if old.g.settled() {
		t.Fatalf("the old owner may not take configuration 3 before shard 3 is deleted")
	}
	sh, err := old.g.pullable(3, 2)
	if err != nil {
		t.Fatalf("pull of a handed-off shard: %v", err)
	}
	neu.apply(groupCommand{Op: "install", Num: 2, ShardID: 3, ShardData: sh})
	if v, ok := neu.g.get("3"); !ok || string(v) != "8" {
		t.Fatalf("after install, key 3 reads %s (served %v), want 8", v, ok)
	}
	// The cas the old owner applied is retried at the new owner: answered
	// from the session table, not applied again (it would fail: 8 != 7).
	if out := neu.kv("c1", 2, "cas", "3", "7", "8"); out.Code != 0 {
		t.Fatalf("a retried cas was applied again at the new owner: %+v", out)
	}
	if out := neu.kv("c1", 4, "cas", "3", "8", "5"); out.Code != 0 {
		t.Fatalf("a new cas at the new owner: %+v", out)
	}
	old.apply(groupCommand{Op: "delete", Num: 2, ShardID: 3})
	neu.apply(groupCommand{Op: "gcdone", Num: 2, ShardID: 3})
	if _, ok := old.g.Shards[3]; ok || !old.g.settled() || !neu.g.settled() {
		t.Fatalf("after delete and gcdone: old holds 3: %v, settled %v %v", ok, old.g.settled(), neu.g.settled())
	}
	// Configurations are taken one at a time, in order.
	neu.config(cfgWith(4, func(int) int { return 2 }))
	if neu.g.Cur.Num != 2 {
		t.Fatalf("group 2 skipped to configuration %d", neu.g.Cur.Num)
	}
}

func TestUnfencedKeepsServing(t *testing.T) {
	old := &groupHarness{t: t, g: newGroup(1, true)}
	old.config(cfgWith(1, func(int) int { return 1 }))
	old.config(cfgWith(2, func(int) int { return 2 }))
	if out := old.kv("c1", 1, "write", "3", "9"); out.Code != 0 {
		t.Fatalf("the counter-example must keep serving what it handed over: %+v", out)
	}
	if _, err := old.g.pullable(3, 5); err != nil {
		t.Fatalf("the counter-example hands out copies at once: %v", err)
	}
}

func TestGroupSnapshotRestore(t *testing.T) {
	h := &groupHarness{t: t, g: newGroup(1, false)}
	h.config(cfgWith(1, func(int) int { return 1 }))
	h.kv("c1", 1, "write", "12", "4")
	raw, err := h.g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := newGroup(1, false)
	if err := g.Restore(raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := g.get("12"); !ok || string(v) != "4" || g.Cur.Num != 1 {
		t.Fatalf("restored: %s %v num %d", v, ok, g.Cur.Num)
	}
	if out := (&groupHarness{t: t, g: g}).kv("c1", 1, "write", "12", "5"); out.Code != 0 {
		t.Fatalf("repeat after restore: %+v", out)
	}
	if v, _ := g.get("12"); string(v) != "4" {
		t.Fatalf("a repeated write was applied again after a restore: %s", v)
	}
	if out := (&groupHarness{t: t, g: g}).apply(groupCommand{Op: "nope"}); out.Code != node.MalformedRequest {
		t.Fatalf("unknown op: %+v", out)
	}
}

func TestLayoutAndShardOf(t *testing.T) {
	ids := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	l := Layout(ids, 3)
	if len(l) != 3 || len(l[2]) != 2 || l[1][0] != "n3" {
		t.Fatalf("layout %v", l)
	}
	for k, want := range map[string]int{"0": 0, "13": 3, "-1": 9, "99": 9} {
		if got := ShardOf(k); got != want {
			t.Errorf("ShardOf(%s) = %d, want %d", k, got, want)
		}
	}
	if s := ShardOf(`"abc"`); s < 0 || s >= NShards {
		t.Errorf("a string key maps to shard %d", s)
	}
}
