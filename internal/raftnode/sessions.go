package raftnode

import (
	"encoding/json"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// Sessions de-duplicates retried commands in a replicated state machine.
//
// A request can reach the log twice: Submit retries after a forwarding
// timeout or a leader change, and the first attempt may have been
// committed after all. Each command therefore carries its client's id and
// a sequence number that grows with each new request of that client (the
// Maelstrom msg_id does). A client waits for each answer before it sends
// its next request, so remembering the last sequence number and its result
// per client is enough: a repeat of the last command gets the remembered
// result, an older one is stale and changes nothing.
//
// Sessions is part of the state machine, so it is replicated through the
// log and saved in snapshots (it encodes to JSON).
type Sessions struct {
	Last map[string]Session `json:"last"`
}

// Session is a client's last applied command.
type Session struct {
	Seq    uint64          `json:"seq"`
	Result json.RawMessage `json:"result"`
}

// Stale is the result of a command older than its client's last one. Its
// client stopped waiting for it long ago, so nobody reads it.
type Stale struct {
	Stale bool `json:"stale"`
}

// Failure is the error a client gets for a state machine's answer: error
// 14 (abort) for a stale duplicate, whose client is gone; the answer's own
// Maelstrom error code and text; nil for code 0. The Raft tracks' answers
// carry these three fields and pass them here from their Failure method.
func Failure(code int, text string, stale bool) error {
	switch {
	case stale:
		return node.NewRPCError(node.Abort, "stale duplicate request")
	case code != 0:
		return node.NewRPCError(code, text)
	}
	return nil
}

// Answer is a state machine's decoded answer to a command.
type Answer interface {
	// Failure returns the error its client gets, nil on success.
	Failure() error
}

// Apply runs fn for a new command and remembers its result; for a repeat
// it returns the remembered result without running fn.
func (s *Sessions) Apply(client string, seq uint64, fn func() any) json.RawMessage {
	if s.Last == nil {
		s.Last = map[string]Session{}
	}
	if last, ok := s.Last[client]; ok {
		switch {
		case seq == last.Seq:
			return last.Result
		case seq < last.Seq:
			raw, _ := json.Marshal(Stale{Stale: true})
			return raw
		}
	}
	raw, err := json.Marshal(fn())
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	s.Last[client] = Session{Seq: seq, Result: raw}
	return raw
}
