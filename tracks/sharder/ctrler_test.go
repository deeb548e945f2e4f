package sharder

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/tracks/store"
)

// The MIT 6.5840 shardctrler rules, checked on the controller's state
// machine: each change adds one configuration, shards are balanced to
// within one, joins and leaves move as few shards as possible, moves are
// exact, old configurations stay queryable, and every replica that applies
// the same log ends with the same configurations.

type harness struct {
	t     *testing.T
	c     *ctrler
	index uint64
	seq   uint64
}

func newHarness(t *testing.T) *harness { return &harness{t: t, c: newCtrler()} }

func (h *harness) apply(cmd ctrlCommand) store.Outcome {
	h.t.Helper()
	h.seq++
	h.index++
	cmd.Client, cmd.Seq = "c1", h.seq
	data, err := json.Marshal(cmd)
	if err != nil {
		h.t.Fatal(err)
	}
	raw, err := json.Marshal(h.c.Apply(h.index, data))
	if err != nil {
		h.t.Fatal(err)
	}
	// Sessions.Apply returns the encoded outcome; decode either form.
	var out store.Outcome
	var inner json.RawMessage
	if json.Unmarshal(raw, &inner) == nil {
		var s string
		if json.Unmarshal(inner, &s) == nil {
			raw = []byte(s)
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("outcome %s: %v", raw, err)
	}
	return out
}

func servers(g int) []string { return []string{fmt.Sprintf("g%da", g), fmt.Sprintf("g%db", g)} }

func (h *harness) join(gids ...int) {
	h.t.Helper()
	groups := map[int][]string{}
	for _, g := range gids {
		groups[g] = servers(g)
	}
	if out := h.apply(ctrlCommand{Op: "join", Groups: groups}); out.Code != 0 {
		h.t.Fatalf("join %v: %+v", gids, out)
	}
}

func (h *harness) leave(gids ...int) {
	h.t.Helper()
	if out := h.apply(ctrlCommand{Op: "leave", GIDs: gids}); out.Code != 0 {
		h.t.Fatalf("leave %v: %+v", gids, out)
	}
}

// checkBalanced: every shard has a joined group (if any), and shard
// counts of joined groups differ by at most one.
func checkBalanced(t *testing.T, c Config) {
	t.Helper()
	counts := map[int]int{}
	for g := range c.Groups {
		counts[g] = 0
	}
	for s, g := range c.Shards {
		if len(c.Groups) == 0 {
			if g != 0 {
				t.Fatalf("%v: shard %d assigned with no groups", c, s)
			}
			continue
		}
		if _, ok := c.Groups[g]; !ok {
			t.Fatalf("%v: shard %d on group %d, which is not joined", c, s, g)
		}
		counts[g]++
	}
	lo, hi := NShards, 0
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	if len(counts) > 0 && hi-lo > 1 {
		t.Fatalf("%v: unbalanced, counts %v", c, counts)
	}
}

func moved(a, b Config) int {
	n := 0
	for s := range a.Shards {
		if a.Shards[s] != b.Shards[s] {
			n++
		}
	}
	return n
}

func TestBasicJoinLeave(t *testing.T) {
	h := newHarness(t)
	if c := h.c.query(-1); c.Num != 0 || c.Shards != [NShards]int{} {
		t.Fatalf("initial config %v", c)
	}
	h.join(1)
	c1 := h.c.query(-1)
	if c1.Num != 1 || !reflect.DeepEqual(c1.Groups[1], servers(1)) {
		t.Fatalf("after join 1: %v %v", c1, c1.Groups)
	}
	for s, g := range c1.Shards {
		if g != 1 {
			t.Fatalf("shard %d on %d, want 1 (the only group)", s, g)
		}
	}
	h.join(2)
	checkBalanced(t, h.c.query(-1))
	h.leave(1)
	c3 := h.c.query(-1)
	if c3.Num != 3 {
		t.Fatalf("num %d after three changes", c3.Num)
	}
	for s, g := range c3.Shards {
		if g != 2 {
			t.Fatalf("shard %d on %d after group 1 left", s, g)
		}
	}
	h.leave(2)
	if c := h.c.query(-1); c.Shards != [NShards]int{} || len(c.Groups) != 0 {
		t.Fatalf("every group left: %v", c)
	}
}

func TestHistoricalQueries(t *testing.T) {
	h := newHarness(t)
	h.join(1)
	h.join(2)
	h.join(3)
	snap := []Config{h.c.query(0).clone(), h.c.query(1).clone(), h.c.query(2).clone(), h.c.query(3).clone()}
	h.leave(2)
	h.join(4)
	for i, want := range snap {
		if got := h.c.query(i); !reflect.DeepEqual(got, want) || got.Num != i {
			t.Fatalf("query(%d) changed: %v, was %v", i, got, want)
		}
	}
	if got := h.c.query(99); got.Num != 5 {
		t.Fatalf("query past the end: num %d, want the latest (5)", got.Num)
	}
}

func TestMove(t *testing.T) {
	h := newHarness(t)
	h.join(1, 2)
	before := h.c.query(-1)
	for s := range NShards {
		target := 1 + s%2
		if s < NShards/2 {
			target = 2 - s%2
		}
		if out := h.apply(ctrlCommand{Op: "move", Shard: s, GID: target}); out.Code != 0 {
			t.Fatalf("move %d: %+v", s, out)
		}
		c := h.c.query(-1)
		if c.Shards[s] != target {
			t.Fatalf("shard %d on %d after moving it to %d", s, c.Shards[s], target)
		}
		// A move touches that shard only.
		prev := h.c.query(c.Num - 1)
		for o := range NShards {
			if o != s && c.Shards[o] != prev.Shards[o] {
				t.Fatalf("moving shard %d moved shard %d too", s, o)
			}
		}
	}
	if h.c.query(-1).Num != before.Num+NShards {
		t.Fatalf("each move must add one configuration")
	}
	if out := h.apply(ctrlCommand{Op: "move", Shard: 0, GID: 7}); out.Code == 0 {
		t.Fatalf("move to a group that is not joined was accepted")
	}
	if out := h.apply(ctrlCommand{Op: "move", Shard: NShards, GID: 1}); out.Code == 0 {
		t.Fatalf("move of shard %d accepted", NShards)
	}
}

func TestRefusedChangesAddNoConfig(t *testing.T) {
	h := newHarness(t)
	h.join(1)
	for _, cmd := range []ctrlCommand{
		{Op: "join", Groups: map[int][]string{1: servers(1)}}, // already joined
		{Op: "join", Groups: map[int][]string{0: servers(0)}}, // gid 0 means none
		{Op: "leave", GIDs: []int{5}},
		{Op: "join"},
		{Op: "flip"},
	} {
		if out := h.apply(cmd); out.Code == 0 {
			t.Fatalf("%+v accepted", cmd)
		}
	}
	if n := h.c.query(-1).Num; n != 1 {
		t.Fatalf("refused changes made configurations: num %d", n)
	}
}

// TestMinimalTransfersAfterJoins: a join takes shards only from others,
// and only as many as the new balance needs.
func TestMinimalTransfersAfterJoins(t *testing.T) {
	h := newHarness(t)
	for g := 1; g <= 12; g++ {
		before := h.c.query(-1)
		h.join(g)
		after := h.c.query(-1)
		checkBalanced(t, after)
		for s := range NShards {
			if before.Shards[s] != after.Shards[s] && after.Shards[s] != g && before.Shards[s] != 0 {
				t.Fatalf("join %d moved shard %d from %d to %d, not to the new group", g, s, before.Shards[s], after.Shards[s])
			}
		}
		// From a balanced configuration the newcomer takes the smaller
		// share, floor(N/g), and nothing else moves.
		if want := NShards / g; g > 1 && moved(before, after) != want {
			t.Fatalf("join %d moved %d shards, want %d", g, moved(before, after), want)
		}
	}
}

// TestMinimalTransfersAfterLeaves: a leave moves only the leaving group's
// shards.
func TestMinimalTransfersAfterLeaves(t *testing.T) {
	h := newHarness(t)
	h.join(1, 2, 3, 4, 5)
	for _, g := range []int{3, 1, 5, 2} {
		before := h.c.query(-1)
		h.leave(g)
		after := h.c.query(-1)
		checkBalanced(t, after)
		for s := range NShards {
			if before.Shards[s] != g && after.Shards[s] != before.Shards[s] {
				t.Fatalf("leave %d moved shard %d from group %d, which stayed", g, s, before.Shards[s])
			}
		}
	}
}

// TestMultiGroupChanges: joins and leaves of several groups at once, and
// more groups than shards.
func TestMultiGroupChanges(t *testing.T) {
	h := newHarness(t)
	var all []int
	for g := 1; g <= 15; g++ {
		all = append(all, g)
	}
	h.join(all...)
	c := h.c.query(-1)
	checkBalanced(t, c)
	for s, g := range c.Shards {
		if slices.Contains(c.Shards[:s], g) {
			t.Fatalf("%v: with more groups than shards, no group may hold two", c)
		}
	}
	h.leave(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	checkBalanced(t, h.c.query(-1))
	if c := h.c.query(-1); c.Num != 2 {
		t.Fatalf("two multi-group changes made num %d", c.Num)
	}
}

// TestReplicasAgree: the balance must not depend on map iteration order,
// or replicas applying the same log would disagree.
func TestReplicasAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var logs [][]ctrlCommand
	var cmds []ctrlCommand
	joined := map[int]bool{}
	for range 200 {
		g := 1 + rng.IntN(8)
		switch {
		case rng.IntN(5) == 0 && len(joined) > 0:
			cmds = append(cmds, ctrlCommand{Op: "move", Shard: rng.IntN(NShards), GID: g})
		case joined[g]:
			cmds = append(cmds, ctrlCommand{Op: "leave", GIDs: []int{g}})
			delete(joined, g)
		default:
			g2 := 9 + rng.IntN(4)
			groups := map[int][]string{g: servers(g)}
			if !joined[g2] {
				groups[g2] = servers(g2)
				joined[g2] = true
			}
			cmds = append(cmds, ctrlCommand{Op: "join", Groups: groups})
			joined[g] = true
		}
	}
	logs = append(logs, cmds, cmds, cmds)
	var results [][]byte
	for _, log := range logs {
		h := newHarness(t)
		for _, c := range log {
			h.apply(c)
			cfg := h.c.query(-1)
			checkBalancedUnlessMoved(t, cfg, c)
		}
		raw, _ := json.Marshal(h.c.Configs)
		results = append(results, raw)
	}
	for i := 1; i < len(results); i++ {
		if string(results[i]) != string(results[0]) {
			t.Fatalf("replica %d ended with different configurations", i)
		}
	}
}

// checkBalancedUnlessMoved: after a move the balance is the operator's
// business; after a join or leave it is restored.
func checkBalancedUnlessMoved(t *testing.T, c Config, cmd ctrlCommand) {
	t.Helper()
	if cmd.Op != "move" {
		checkBalanced(t, c)
	}
}

func TestDuplicateChangeAppliedOnce(t *testing.T) {
	c := newCtrler()
	data, _ := json.Marshal(ctrlCommand{Client: "c1", Seq: 7, Op: "join", Groups: map[int][]string{1: servers(1)}})
	first := c.Apply(1, data)
	again := c.Apply(2, data)
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("a retried join got %v, the first %v", again, first)
	}
	if n := c.latest().Num; n != 1 {
		t.Fatalf("a retried join made configuration %d", n)
	}
}

func TestSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	h.join(1, 2)
	h.leave(1)
	raw, err := h.c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := newCtrler()
	if err := c.Restore(raw); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Configs, h.c.Configs) {
		t.Fatalf("restored %v, want %v", c.Configs, h.c.Configs)
	}
}
