package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// Command is one log entry: a client's write or cas, with the client's id
// and request number for de-duplication.
type Command struct {
	Client string          `json:"client"`
	Seq    uint64          `json:"seq"`
	Op     string          `json:"op"`
	Key    string          `json:"key"`
	Value  json.RawMessage `json:"value,omitempty"`
	From   json.RawMessage `json:"from,omitempty"`
	To     json.RawMessage `json:"to,omitempty"`
}

// Outcome is a command's result: code 0 for success, else a Maelstrom
// error code (20 missing key, 22 precondition failed).
type Outcome struct {
	Code  int    `json:"code,omitempty"`
	Text  string `json:"text,omitempty"`
	Stale bool   `json:"stale,omitempty"`
}

// Failure returns the error the command's client gets (nil on success).
func (o *Outcome) Failure() error { return raftnode.Failure(o.Code, o.Text, o.Stale) }

// KV is the replicated state machine: the map plus the session table. The
// driver calls it with its lock held, so it needs no lock of its own. It is
// exported for the sharder track, which keeps one per shard and moves it,
// session table and all, between Raft groups.
type KV struct {
	Data     map[string]json.RawMessage `json:"data"`
	Sessions raftnode.Sessions          `json:"sessions"`
}

// NewKV returns an empty map with an empty session table.
func NewKV() *KV { return &KV{Data: map[string]json.RawMessage{}} }

// Canonical makes a key's JSON a map key: compact, so that 1 and " 1" agree.
func Canonical(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// Get returns the value, or JSON null for a missing key (lin-kv's initial
// state of every register).
func (s *KV) Get(key string) json.RawMessage {
	if v, ok := s.Data[key]; ok {
		return v
	}
	return json.RawMessage("null")
}

func (s *KV) Apply(_ uint64, data []byte) any {
	var c Command
	if err := json.Unmarshal(data, &c); err != nil {
		return Outcome{Code: node.MalformedRequest, Text: fmt.Sprintf("undecodable command: %v", err)}
	}
	return s.Sessions.Apply(c.Client, c.Seq, func() any { return s.exec(c) })
}

func (s *KV) exec(c Command) Outcome {
	switch c.Op {
	case "write":
		s.Data[c.Key] = c.Value
	case "cas":
		cur, ok := s.Data[c.Key]
		if !ok {
			return Outcome{Code: node.KeyDoesNotExist, Text: "key " + c.Key + " does not exist"}
		}
		if Canonical(cur) != Canonical(c.From) {
			return Outcome{Code: node.PreconditionFailed, Text: fmt.Sprintf("expected %s, had %s", c.From, cur)}
		}
		s.Data[c.Key] = c.To
	default:
		return Outcome{Code: node.MalformedRequest, Text: "unknown op " + c.Op}
	}
	return Outcome{}
}

func (s *KV) Snapshot() ([]byte, error) { return json.Marshal(s) }

func (s *KV) Restore(data []byte) error {
	fresh := NewKV()
	if err := json.Unmarshal(data, fresh); err != nil {
		return err
	}
	*s = *fresh
	return nil
}
