package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// sharded-kv: the sharder track's workload (ours). Clients send lin-kv's
// read, write and cas (same bodies, same replies) to any node, over
// --keys integer keys; key k lives in shard k mod 10. The cluster's nodes
// are cut into groups of --group-size in node-id order: the first group
// is the shard controller, the others are replica groups with gids 1, 2,
// ... While the clients run, the grader reconfigures the controller
// through any node, one change at a time, every --reconfig-every seconds:
//
//	{"type":"query","num":-1}                       -> {"type":"query_ok","config":{"num":n,"shards":[gid x10],"groups":{"1":["n3","n4","n5"],...}}}
//	{"type":"join","groups":{"2":["n6","n7","n8"]}} -> {"type":"join_ok"}
//	{"type":"leave","gids":[2]}                     -> {"type":"leave_ok"}
//	{"type":"move","shard":3,"gid":1}               -> {"type":"move_ok"}
//
// Before any operation the grader joins group 1 (setup). Each
// reconfiguration queries the latest configuration, picks at random a
// join of a group not in it, a leave of one (never the last) or a move of
// a shard to another joined group, and reads the configuration back. The
// history holds it as one op, f "reconfigure", value checker.ShardChange.
// Checks: the read/write/cas history is linearizable per key (porcupine),
// and each shard's unavailability after each change is measured, within
// --unavailability-bound for changes made while no fault is active
// (checker.ShardAvailability).
const shardedKVShards = 10

func init() {
	Register(func() Spec {
		lin := linKVSpec()
		return Spec{Name: "sharded-kv", Description: "lin-kv over many keys on a sharded store while the grader reconfigures its shard controller (ours)",
			Reusable: true, Timeout: lin.Timeout,
			Flags: []Flag{
				{Name: "keys", Default: "100", Usage: "number of keys (at least 100)"},
				{Name: "group-size", Default: "3", Usage: "nodes per Raft group; the first group is the controller"},
				{Name: "reconfig-every", Default: "2", Usage: "seconds between controller changes (0: none)"},
				{Name: "unavailability-bound", Default: "2000", Usage: "milliseconds a shard may stay unavailable after a change made without faults"},
			},
			New: newShardedKV,
		}
	})
}

func newShardedKV(p Params) (Instance, error) {
	keys, err := p.FlagNumber("keys", 100, 1e6)
	if err != nil {
		return nil, err
	}
	size, err := p.FlagNumber("group-size", 1, 100)
	if err != nil {
		return nil, err
	}
	every, err := p.FlagNumber("reconfig-every", 0, 3600)
	if err != nil {
		return nil, err
	}
	bound, err := p.FlagNumber("unavailability-bound", 1, 3600000)
	if err != nil {
		return nil, err
	}
	w := &shardedKV{p: p, keys: int(keys), size: int(size),
		every: time.Duration(every * float64(time.Second)), bound: time.Duration(bound * float64(time.Millisecond)),
		rng: rand.New(rand.NewPCG(p.Rand.Uint64(), p.Rand.Uint64()))}
	for i := 0; i < len(p.NodeIDs); i += w.size {
		w.groups = append(w.groups, p.NodeIDs[i:min(i+w.size, len(p.NodeIDs))])
	}
	if len(w.groups) < 3 {
		return nil, fmt.Errorf("sharded-kv needs the controller and at least two replica groups: %d nodes in groups of %d make %d groups",
			len(p.NodeIDs), w.size, len(w.groups))
	}
	w.start = time.Now()
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	w.next = w.every
	return w, nil
}

type shardedKV struct {
	p            Params
	keys, size   int
	every, bound time.Duration
	groups       [][]string
	start        time.Time
	mu           sync.Mutex
	rng          *rand.Rand // reconfiguration choices (Invoke runs concurrently with Next)
	next         time.Duration
	busy         bool
}

// shardConfig is a query_ok's configuration.
type shardConfig struct {
	Num    int                 `json:"num"`
	Shards []int               `json:"shards"`
	Groups map[string][]string `json:"groups"`
}

// Setup joins replica group 1, through the first node, so that every
// shard has an owner before the first request.
func (w *shardedKV) Setup(ctx context.Context, node string, c Caller) error {
	if node != w.p.NodeIDs[0] {
		return nil
	}
	body := map[string]any{"type": "join", "groups": map[string][]string{"1": w.groups[1]}}
	// A controller elects a leader within a second or two; ten seconds
	// without an acknowledgement is a node that never will.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		raw, err := c.RPC(ctx, body)
		if err == nil {
			if _, err = Decode(raw, "join_ok"); err == nil {
				return nil
			}
		}
		var rpc *RPCError
		if errors.As(err, &rpc) {
			switch rpc.Code {
			case 22:
				return nil // an earlier attempt went through
			case 0, 11, 13, 14:
				// timeout, temporarily unavailable, crash, abort: the
				// controller may have no leader yet; try again.
			default:
				return fmt.Errorf("join of group 1: %w", err)
			}
		}
		var mal *MalformedError
		if errors.As(err, &mal) {
			return fmt.Errorf("join of group 1: %w", err)
		}
		last = err
		if !sleepFor(ctx, 100*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("join of group 1 never acknowledged: %v", last)
}

func (w *shardedKV) Next(int, int) Invocation {
	w.mu.Lock()
	if now := time.Since(w.start); w.every > 0 && !w.busy && now >= w.next {
		w.busy = true
		w.next = now + w.every
		w.mu.Unlock()
		return Invocation{F: "reconfigure"}
	}
	w.mu.Unlock()
	r := w.p.Rand
	key := int64(r.IntN(w.keys))
	v := int64(r.IntN(5))
	switch r.IntN(6) {
	case 0, 1, 2:
		return Invocation{F: "read", Value: history.KV{Key: key}}
	case 3:
		return Invocation{F: "write", Value: history.KV{Key: key, Value: &v}}
	}
	from := int64(r.IntN(5))
	return Invocation{F: "cas", Value: history.KV{Key: key, From: &from, To: &v}}
}

func (w *shardedKV) Final(int) []Invocation { return nil }

func (w *shardedKV) Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion {
	if inv.F != "reconfigure" {
		var lin linKV
		return lin.Invoke(ctx, c, thread, inv)
	}
	defer func() {
		w.mu.Lock()
		w.busy = false
		w.mu.Unlock()
	}()
	before, err := w.query(ctx, c)
	if err != nil {
		// Nothing was changed yet.
		comp := Outcome(err, true, true)
		comp.Type = history.Fail
		return comp
	}
	ch, body := w.choose(before)
	raw, err := c.RPC(ctx, body)
	if err == nil {
		_, err = Decode(raw, ch.Op+"_ok")
	}
	if err != nil {
		return Outcome(err, true, false)
	}
	ch.Before = before.Shards
	if after, err := w.query(ctx, c); err == nil {
		ch.After, ch.Num = after.Shards, after.Num
	}
	return Completion{Type: history.OK, Value: ch}
}

// choose picks the next change from the configuration the controller
// has now.
func (w *shardedKV) choose(cfg shardConfig) (checker.ShardChange, map[string]any) {
	var joined, out []int
	for g := 1; g < len(w.groups); g++ {
		if _, ok := cfg.Groups[strconv.Itoa(g)]; ok {
			joined = append(joined, g)
		} else {
			out = append(out, g)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var kinds []string
	if len(out) > 0 {
		kinds = append(kinds, "join")
	}
	if len(joined) > 1 {
		kinds = append(kinds, "leave", "move")
	}
	if len(kinds) == 0 {
		kinds = []string{"move"}
	}
	switch kinds[w.rng.IntN(len(kinds))] {
	case "join":
		g := out[w.rng.IntN(len(out))]
		return checker.ShardChange{Op: "join", GID: g},
			map[string]any{"type": "join", "groups": map[string][]string{strconv.Itoa(g): w.groups[g]}}
	case "leave":
		g := joined[w.rng.IntN(len(joined))]
		return checker.ShardChange{Op: "leave", GID: g}, map[string]any{"type": "leave", "gids": []int{g}}
	}
	shard := w.rng.IntN(shardedKVShards)
	others := slices.DeleteFunc(slices.Clone(joined), func(g int) bool { return len(cfg.Shards) > shard && cfg.Shards[shard] == g })
	if len(others) == 0 {
		others = joined
	}
	g := 1
	if len(others) > 0 {
		g = others[w.rng.IntN(len(others))]
	}
	return checker.ShardChange{Op: "move", GID: g, Shard: shard},
		map[string]any{"type": "move", "shard": shard, "gid": g}
}

func (w *shardedKV) query(ctx context.Context, c Caller) (shardConfig, error) {
	raw, err := c.RPC(ctx, map[string]any{"type": "query", "num": -1})
	if err != nil {
		return shardConfig{}, err
	}
	m, err := Decode(raw, "query_ok", Field{Name: "config"})
	if err != nil {
		return shardConfig{}, err
	}
	var cfg shardConfig
	if err := json.Unmarshal(m["config"], &cfg); err != nil || len(cfg.Shards) != shardedKVShards {
		return shardConfig{}, &MalformedError{Reason: fmt.Sprintf("config must be {num, shards: %d gids, groups}, got %s", shardedKVShards, truncate(string(m["config"]), 120))}
	}
	return cfg, nil
}

func (w *shardedKV) Check(h history.History) checker.Result {
	kv := make(history.History, 0, len(h))
	for _, o := range h {
		if o.F != "reconfigure" {
			kv = append(kv, o)
		}
	}
	return checkLinearizable(kv, w.p.OutDir)
}

func (w *shardedKV) ExtraChecks(h history.History) []checker.Result {
	return []checker.Result{checkShardAvailability(h, shardedKVShards, w.bound)}
}
