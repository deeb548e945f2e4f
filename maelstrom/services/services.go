// Package services hosts Maelstrom's built-in service nodes inside the
// grader: lin-kv, seq-kv, lww-kv and lin-tso.
//
// A service is addressed like any node. The grader's network delivers a
// request body to Handle and routes the returned reply back to the sender
// with the usual latency; services are never partitioned. Replies carry
// "type" and "in_reply_to" (the request's msg_id, or null when it had none)
// and no msg_id. A request whose type the service does not know gets no
// reply at all, as in Maelstrom, so a node that misspells a type sees a
// timeout rather than an error.
//
// Keys and values are arbitrary JSON compared by value after
// canonicalisation: object keys are sorted, 1 and 1.0 differ (an integer is
// not a float), 1.0 and 1.00 are equal, arrays and objects compare
// structurally. Every service is safe for concurrent use; the grader seeds
// the random source so a run replays.
package services

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// Service is one built-in node. Handle gets the sender's id and the request
// body and returns the reply body; ok is false when the service stays
// silent.
type Service interface {
	Handle(src string, body json.RawMessage) (reply json.RawMessage, ok bool)
}

// Names lists the services the grader registers on every network.
var Names = []string{"lin-kv", "seq-kv", "lww-kv", "lin-tso"}

// New returns a fresh service by name. rng drives every random choice the
// service makes (seq-kv's stale states, lww-kv's replicas); it is used only
// under the service's own lock, so callers must not share it.
func New(name string, rng *rand.Rand) (Service, error) {
	switch name {
	case "lin-kv":
		return NewLinKV(), nil
	case "seq-kv":
		if rng == nil {
			return nil, fmt.Errorf("services: %s needs a random source", name)
		}
		return NewSeqKV(rng), nil
	case "lww-kv":
		if rng == nil {
			return nil, fmt.Errorf("services: %s needs a random source", name)
		}
		return NewLWWKV(rng), nil
	case "lin-tso":
		return NewLinTSO(), nil
	}
	return nil, fmt.Errorf("services: unknown service %q", name)
}

// Error codes the services reply with (Maelstrom's numbering).
const (
	CodeKeyDoesNotExist    = 20
	CodePreconditionFailed = 22
)

// request is the union of every service request body. Fields a request
// does not carry stay nil and read as JSON null, which is how Maelstrom's
// services treat them too: there is no request validation.
type request struct {
	Type   string          `json:"type"`
	MsgID  json.RawMessage `json:"msg_id"`
	Key    json.RawMessage `json:"key"`
	Value  json.RawMessage `json:"value"`
	From   json.RawMessage `json:"from"`
	To     json.RawMessage `json:"to"`
	Create json.RawMessage `json:"create_if_not_exists"`
}

// kvRequest is a request with its key and operands already canonical.
type kvRequest struct {
	typ    string
	msgID  json.RawMessage
	key    string
	value  string
	from   string
	to     string
	create bool
}

func parseKV(body json.RawMessage) (kvRequest, bool) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return kvRequest{}, false
	}
	kr := kvRequest{typ: r.Type, msgID: r.MsgID, create: truthy(r.Create)}
	var err error
	if kr.key, err = canonical(r.Key); err != nil {
		return kvRequest{}, false
	}
	switch r.Type {
	case "write":
		kr.value, err = canonical(r.Value)
	case "cas":
		if kr.from, err = canonical(r.From); err == nil {
			kr.to, err = canonical(r.To)
		}
	}
	if err != nil {
		return kvRequest{}, false
	}
	return kr, true
}

// truthy follows Clojure: everything but false and nil (absent) is true.
func truthy(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	c, err := canonical(raw)
	return err == nil && c != "false" && c != "null"
}

func inReplyTo(msgID json.RawMessage) json.RawMessage {
	if len(msgID) == 0 {
		return json.RawMessage("null")
	}
	return msgID
}

type okReply struct {
	Type      string          `json:"type"`
	InReplyTo json.RawMessage `json:"in_reply_to"`
	Value     json.RawMessage `json:"value,omitempty"`
	TS        *uint64         `json:"ts,omitempty"`
}

type errReply struct {
	Type      string          `json:"type"`
	InReplyTo json.RawMessage `json:"in_reply_to"`
	Code      int             `json:"code"`
	Text      string          `json:"text"`
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Every field is either a string, an int or JSON that was
		// canonicalised by this package, so this cannot happen.
		panic(fmt.Sprintf("services: marshal reply: %v", err))
	}
	return b
}

func replyOK(typ string, msgID json.RawMessage) json.RawMessage {
	return mustMarshal(okReply{Type: typ, InReplyTo: inReplyTo(msgID)})
}

func replyValue(msgID json.RawMessage, value string) json.RawMessage {
	return mustMarshal(okReply{Type: "read_ok", InReplyTo: inReplyTo(msgID), Value: json.RawMessage(value)})
}

func replyError(msgID json.RawMessage, code int, text string) json.RawMessage {
	return mustMarshal(errReply{Type: "error", InReplyTo: inReplyTo(msgID), Code: code, Text: text})
}

func errMissing(msgID json.RawMessage) json.RawMessage {
	return replyError(msgID, CodeKeyDoesNotExist, "key does not exist")
}

func errMismatch(msgID json.RawMessage, current, from string) json.RawMessage {
	return replyError(msgID, CodePreconditionFailed, fmt.Sprintf("current value %s is not %s", current, from))
}
