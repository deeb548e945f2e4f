package maelstrom

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// shardedCluster is a test double of a sharded store: every node reads
// and writes one map shared by the whole in-process cluster (so it is
// linearizable for free) and keeps the controller's configuration. With
// split, each node keeps its own map instead (two owners of every key);
// with outage, shards a change moves refuse requests for that long.
type shardedCluster struct {
	mu     sync.Mutex
	split  bool
	outage time.Duration
	data   map[string]map[int64]int64 // by node ("" when shared)
	shards [10]int
	groups map[string][]string
	num    int
	down   [10]time.Time
}

func newShardedCluster(split bool, outage time.Duration) *shardedCluster {
	return &shardedCluster{split: split, outage: outage, data: map[string]map[int64]int64{}, groups: map[string][]string{}}
}

func (c *shardedCluster) rebalance() {
	var gids []int
	for g := range c.groups {
		n, _ := strconv.Atoi(g)
		gids = append(gids, n)
	}
	for s := range c.shards {
		if len(gids) == 0 {
			c.shards[s] = 0
			continue
		}
		c.shards[s] = gids[s%len(gids)]
	}
}

func (c *shardedCluster) program() program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			owner := ""
			if c.split {
				owner = n.ID
			}
			if c.data[owner] == nil {
				c.data[owner] = map[int64]int64{}
			}
			data := c.data[owner]
			key := m.Int("key")
			switch m.Type() {
			case "read", "write", "cas":
				if time.Now().Before(c.down[key%10]) {
					n.Reply(m, map[string]any{"type": "error", "code": 11, "text": "shard moving"})
					return nil
				}
			}
			switch m.Type() {
			case "read":
				v, ok := data[key]
				if !ok {
					n.Reply(m, map[string]any{"type": "read_ok", "value": nil})
					return nil
				}
				n.Reply(m, map[string]any{"type": "read_ok", "value": v})
			case "write":
				data[key] = m.Int("value")
				n.Reply(m, map[string]any{"type": "write_ok"})
			case "cas":
				v, ok := data[key]
				switch {
				case !ok:
					n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no such key"})
				case v != m.Int("from"):
					n.Reply(m, map[string]any{"type": "error", "code": 22, "text": "mismatch"})
				default:
					data[key] = m.Int("to")
					n.Reply(m, map[string]any{"type": "cas_ok"})
				}
			case "query":
				n.Reply(m, map[string]any{"type": "query_ok", "config": map[string]any{"num": c.num, "shards": c.shards, "groups": c.groups}})
			case "join", "leave", "move":
				before := c.shards
				switch m.Type() {
				case "join":
					var groups map[string][]string
					_ = json.Unmarshal(m.Field("groups"), &groups)
					for g, s := range groups {
						c.groups[g] = s
					}
					c.rebalance()
				case "leave":
					var gids []int
					_ = json.Unmarshal(m.Field("gids"), &gids)
					for _, g := range gids {
						delete(c.groups, strconv.Itoa(g))
					}
					c.rebalance()
				case "move":
					c.shards[m.Int("shard")] = int(m.Int("gid"))
				}
				c.num++
				for s := range c.shards {
					// The first join only assigns: nothing moves.
					if c.shards[s] != before[s] && before[s] != 0 {
						c.down[s] = time.Now().Add(c.outage)
					}
				}
				n.Reply(m, map[string]any{"type": m.Type() + "_ok"})
			default:
				n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "unsupported"})
			}
			return nil
		}}
	})
}

var shardedArgs = []string{"-w", "sharded-kv", "--node-count", "9", "--time-limit", "8", "--rate", "50",
	"--concurrency", "9", "--reconfig-every", "1.5"}

func shardDetails(t *testing.T, rep *Report) checker.ShardAvailabilityDetails {
	t.Helper()
	res, ok := rep.Result("shard-availability")
	if !ok {
		t.Fatalf("no shard-availability result\n%s", rep.Summary())
	}
	return res.Details.(checker.ShardAvailabilityDetails)
}

func TestShardedKVValid(t *testing.T) {
	rep := grade(t, newShardedCluster(false, 0).program(), shardedArgs...)
	wantVerdict(t, rep, checker.Valid, "shard-availability", "keys linearizable")
	d := shardDetails(t, rep)
	if len(d.Changes) < 3 || d.Judged != len(d.Changes) {
		t.Fatalf("changes %d, judged %d: want several, all judged (no faults)", len(d.Changes), d.Judged)
	}
	if c := rep.ByF["reconfigure"]; c.OK < 3 {
		t.Fatalf("reconfigure counts %+v", c)
	}
}

// TestShardedKVTwoOwners: every node serves its own copy of every key, as
// two groups do when the old owner of a shard keeps accepting writes.
func TestShardedKVTwoOwners(t *testing.T) {
	rep := grade(t, newShardedCluster(true, 0).program(), shardedArgs...)
	wantVerdict(t, rep, checker.Invalid, "first problem (linearizable)", "cannot be linearized")
}

// slowArgs leave 4 s between changes, so that a 3 s outage after one
// change is over before the next.
var slowArgs = []string{"-w", "sharded-kv", "--node-count", "9", "--time-limit", "12", "--rate", "50",
	"--concurrency", "9", "--reconfig-every", "4"}

// TestShardedKVSlowMigration: moved shards refuse requests for 3 s after
// every change, over the 2 s bound.
func TestShardedKVSlowMigration(t *testing.T) {
	rep := grade(t, newShardedCluster(false, 3*time.Second).program(), slowArgs...)
	wantVerdict(t, rep, checker.Invalid, "shard unavailable too long after a change", "first succeeded", "over the bound of 2s")
	res, _ := rep.Result("shard-availability")
	v := res.First()
	if v == nil || v.Node == "" || v.Op == nil || v.Value == nil || v.Time == 0 {
		t.Fatalf("violation without node, op, value or time: %+v", v)
	}
	if d := shardDetails(t, rep); d.WorstMoved < 2*time.Second || d.WorstStill > 2*time.Second {
		t.Fatalf("worst wait moved %s, still %s: the outage hits moved shards only", d.WorstMoved, d.WorstStill)
	}
}

// TestShardedKVOutageWithinBound: the same outage under a 4 s bound passes.
func TestShardedKVOutageWithinBound(t *testing.T) {
	args := append(append([]string{}, slowArgs...), "--unavailability-bound", "4000")
	rep := grade(t, newShardedCluster(false, 3*time.Second).program(), args...)
	wantVerdict(t, rep, checker.Valid)
}

func TestShardedKVRefusesBadSetups(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-count", "6"}, "at least two replica groups"},
		{[]string{"--node-count", "9", "--keys", "20"}, "--keys"},
	} {
		args := append([]string{"-w", "sharded-kv", "--time-limit", "1"}, c.args...)
		opts, err := ParseArgs(args)
		if err == nil {
			opts.StoreDir = ""
			_, err = Run(t.Context(), opts, InProcess{Program: newShardedCluster(false, 0).program()})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want one naming %q", c.args, err, c.want)
		}
	}
}
