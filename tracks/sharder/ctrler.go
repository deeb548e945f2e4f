package sharder

import (
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

// ctrlCommand is one entry of the controller's log: a join, leave or move,
// with the client's id and request number for de-duplication.
type ctrlCommand struct {
	Client string           `json:"client"`
	Seq    uint64           `json:"seq"`
	Op     string           `json:"op"`
	Groups map[int][]string `json:"groups,omitempty"` // join
	GIDs   []int            `json:"gids,omitempty"`   // leave
	Shard  int              `json:"shard,omitempty"`  // move
	GID    int              `json:"gid,omitempty"`    // move
}

// ctrler is the shard controller's replicated state machine: the list of
// every configuration so far (configs[i].Num == i) and the session table.
type ctrler struct {
	Configs  []Config          `json:"configs"`
	Sessions raftnode.Sessions `json:"sessions"`
}

func newCtrler() *ctrler {
	return &ctrler{Configs: []Config{{Groups: map[int][]string{}}}}
}

func (c *ctrler) latest() Config { return c.Configs[len(c.Configs)-1] }

// query returns configuration num, or the latest for num < 0 or past the
// end (the MIT shardctrler's Query).
func (c *ctrler) query(num int) Config {
	if num < 0 || num >= len(c.Configs) {
		return c.latest()
	}
	return c.Configs[num]
}

func (c *ctrler) Apply(_ uint64, data []byte) any {
	var cmd ctrlCommand
	if err := json.Unmarshal(data, &cmd); err != nil {
		return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	return c.Sessions.Apply(cmd.Client, cmd.Seq, func() any { return c.exec(cmd) })
}

// exec makes the next configuration from the latest one. Every accepted
// change adds exactly one configuration; a refused one adds none.
func (c *ctrler) exec(cmd ctrlCommand) store.Outcome {
	next := c.latest().clone()
	next.Num++
	switch cmd.Op {
	case "join":
		if len(cmd.Groups) == 0 {
			return store.Outcome{Code: node.MalformedRequest, Text: "join names no group"}
		}
		for g, servers := range cmd.Groups {
			if g <= 0 {
				return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("gid %d: gids start at 1 (0 means no group)", g)}
			}
			if _, ok := next.Groups[g]; ok {
				return store.Outcome{Code: node.PreconditionFailed, Text: fmt.Sprintf("group %d already joined", g)}
			}
			if len(servers) == 0 {
				return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("group %d has no servers", g)}
			}
		}
		for g, servers := range cmd.Groups {
			next.Groups[g] = servers
		}
		rebalance(&next.Shards, next.gids())
	case "leave":
		if len(cmd.GIDs) == 0 {
			return store.Outcome{Code: node.MalformedRequest, Text: "leave names no group"}
		}
		for _, g := range cmd.GIDs {
			if _, ok := next.Groups[g]; !ok {
				return store.Outcome{Code: node.PreconditionFailed, Text: fmt.Sprintf("group %d is not joined", g)}
			}
		}
		for _, g := range cmd.GIDs {
			delete(next.Groups, g)
		}
		rebalance(&next.Shards, next.gids())
	case "move":
		if cmd.Shard < 0 || cmd.Shard >= NShards {
			return store.Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("shard %d: want 0 to %d", cmd.Shard, NShards-1)}
		}
		if _, ok := next.Groups[cmd.GID]; !ok {
			return store.Outcome{Code: node.PreconditionFailed, Text: fmt.Sprintf("group %d is not joined", cmd.GID)}
		}
		// A move is the operator's word: no rebalancing after it (until
		// the next join or leave).
		next.Shards[cmd.Shard] = cmd.GID
	default:
		return store.Outcome{Code: node.MalformedRequest, Text: "unknown controller op " + cmd.Op}
	}
	c.Configs = append(c.Configs, next)
	return store.Outcome{}
}

func (c *ctrler) Snapshot() ([]byte, error) { return json.Marshal(c) }

func (c *ctrler) Restore(data []byte) error {
	fresh := newCtrler()
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	*c = *fresh
	return nil
}
