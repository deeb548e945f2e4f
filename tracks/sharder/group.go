package sharder

import (
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

// Shard states in a replica group. A group advances to the next
// configuration only when every shard it holds is serving, so a shard
// moves through one configuration change at a time.
const (
	// serving: this group owns the shard and answers for it.
	serving = "serving"
	// pulling: this group owns the shard since the current configuration
	// but does not have its data yet; it answers nothing for it.
	pulling = "pulling"
	// handoff: the shard left this group in the current configuration. Its
	// data is frozen, kept for the new owner to pull, and served to nobody.
	handoff = "handoff"
	// gc: this group installed the shard and serves it, but the old owner
	// has not confirmed deleting its frozen copy yet.
	gc = "gc"
)

// shard is one shard: a store state machine (tracks/store), whose map
// and de-duplication table travel together on a migration, so that a
// request the old owner applied is answered, not applied again, by the
// new one.
type shard struct {
	Status string    `json:"status"`
	KV     *store.KV `json:"kv"`
}

func (s *shard) copyOut() (*shard, error) {
	raw, err := s.KV.Snapshot()
	if err != nil {
		return nil, err
	}
	kv := store.NewKV()
	if err := kv.Restore(raw); err != nil {
		return nil, err
	}
	return &shard{Status: s.Status, KV: kv}, nil
}

// groupCommand is one entry of a replica group's log.
type groupCommand struct {
	Op string `json:"op"` // kv, config, install, delete, gcdone
	// kv: a store command (write or cas) for the key's shard
	KV json.RawMessage `json:"kv,omitempty"`
	// config
	Config *Config `json:"config,omitempty"`
	// install, delete, gcdone: the shard, in configuration Num
	Num       int    `json:"num,omitempty"`
	ShardID   int    `json:"shard,omitempty"`
	ShardData *shard `json:"shard_data,omitempty"`
}

// wrongGroup is the outcome of a request for a shard this group does not
// serve at that point of its log: certainly not applied.
var wrongGroup = store.Outcome{Code: node.TemporarilyUnavailable, Text: wrongGroupText}

// group is a replica group's state machine: its current and previous
// configuration and the shards it holds.
type group struct {
	GID    int            `json:"gid"`
	Cur    Config         `json:"cur"`
	Prev   Config         `json:"prev"`
	Shards map[int]*shard `json:"shards"`
	// unfenced is the counter-example: a group serves every shard it holds
	// data for, whatever the configuration says, and keeps that data.
	unfenced bool
}

func newGroup(gid int, unfenced bool) *group {
	return &group{GID: gid, Cur: Config{Groups: map[int][]string{}}, Prev: Config{Groups: map[int][]string{}},
		Shards: map[int]*shard{}, unfenced: unfenced}
}

// serves says whether the group answers for shard s now.
func (g *group) serves(s int) (*shard, bool) {
	sh := g.Shards[s]
	if sh == nil {
		return nil, false
	}
	if g.unfenced {
		return sh, sh.Status != pulling
	}
	return sh, sh.Status == serving || sh.Status == gc
}

// settled says whether every shard is serving, so the group may take the
// next configuration.
func (g *group) settled() bool {
	for _, sh := range g.Shards {
		if sh.Status != serving {
			return false
		}
	}
	return true
}

// get reads key: its value, or JSON null if missing; ok is false if the
// group does not serve the key's shard.
func (g *group) get(key string) (json.RawMessage, bool) {
	sh, ok := g.serves(ShardOf(key))
	if !ok {
		return nil, false
	}
	return sh.KV.Get(key), true
}

func (g *group) Apply(index uint64, data []byte) any {
	var c groupCommand
	if err := json.Unmarshal(data, &c); err != nil {
		return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	switch c.Op {
	case "kv":
		var kc store.Command
		if err := json.Unmarshal(c.KV, &kc); err != nil {
			return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
		}
		// The fence: whether this group may apply a request is decided
		// here, at its place in the log, against the configuration the
		// log has reached, not when the request arrived.
		sh, ok := g.serves(ShardOf(kc.Key))
		if !ok {
			return wrongGroup
		}
		return sh.KV.Apply(index, c.KV)
	case "config":
		return g.applyConfig(*c.Config)
	case "install":
		sh := g.Shards[c.ShardID]
		if c.Num == g.Cur.Num && sh != nil && sh.Status == pulling && c.ShardData != nil && c.ShardData.KV != nil {
			g.Shards[c.ShardID] = &shard{Status: gc, KV: c.ShardData.KV}
		}
	case "delete":
		sh := g.Shards[c.ShardID]
		if c.Num == g.Cur.Num && sh != nil && sh.Status == handoff {
			delete(g.Shards, c.ShardID)
		}
	case "gcdone":
		sh := g.Shards[c.ShardID]
		if c.Num == g.Cur.Num && sh != nil && sh.Status == gc {
			sh.Status = serving
		}
	default:
		return store.Outcome{Code: node.MalformedRequest, Text: "unknown op " + c.Op}
	}
	return store.Outcome{}
}

// applyConfig moves to configuration next if it is the one after the
// current and every shard is settled; a duplicate or early proposal is
// ignored (the leader proposes again later).
func (g *group) applyConfig(next Config) store.Outcome {
	if next.Num != g.Cur.Num+1 || !g.settled() {
		return store.Outcome{}
	}
	for s := range NShards {
		had, has := g.Cur.Shards[s] == g.GID, next.Shards[s] == g.GID
		switch {
		case has && !had && g.Cur.Shards[s] == 0:
			// Nobody owned it: it starts empty.
			g.Shards[s] = &shard{Status: serving, KV: store.NewKV()}
		case has && !had:
			if g.unfenced && g.Shards[s] != nil {
				// The unfenced group kept its old copy and serves it.
				g.Shards[s].Status = serving
				continue
			}
			g.Shards[s] = &shard{Status: pulling}
		case had && !has:
			if g.unfenced {
				// Serves on, and has nothing to hand off: the new owner
				// pulls a copy at once (see pullable).
				continue
			}
			g.Shards[s].Status = handoff
		}
	}
	g.Prev, g.Cur = g.Cur, next.clone()
	return store.Outcome{}
}

// pullable returns a copy of shard s for the group that owns it in
// configuration num, once this group has frozen it there.
func (g *group) pullable(s, num int) (*shard, error) {
	sh := g.Shards[s]
	if g.unfenced && sh != nil {
		return sh.copyOut()
	}
	switch {
	case g.Cur.Num < num:
		return nil, node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("not at configuration %d yet (at %d)", num, g.Cur.Num))
	case g.Cur.Num > num || sh == nil || sh.Status != handoff:
		return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("shard %d is not handed off in configuration %d", s, num))
	}
	return sh.copyOut()
}

func (g *group) Snapshot() ([]byte, error) { return json.Marshal(g) }

func (g *group) Restore(data []byte) error {
	fresh := newGroup(g.GID, g.unfenced)
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	*g = *fresh
	return nil
}
