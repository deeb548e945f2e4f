package pbft

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Error codes of Maelstrom's lin-kv.
const (
	codeNotFound  = 20
	codePrecond   = 22
	codeMalformed = 12
)

type okBody struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value,omitempty"`
}

type errBody struct {
	Type string `json:"type"`
	Code int    `json:"code"`
	Text string `json:"text"`
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// apply executes op on kv and returns the reply body for the client. It
// is deterministic: every correct replica computes the same bytes, which
// is what lets a client match f+1 replies.
func apply(kv map[string]json.RawMessage, op Op) json.RawMessage {
	key := string(op.Key)
	switch op.F {
	case "read":
		v, ok := kv[key]
		if !ok {
			return mustJSON(errBody{"error", codeNotFound, "key does not exist"})
		}
		return mustJSON(okBody{Type: "read_ok", Value: v})
	case "write":
		kv[key] = op.Value
		return mustJSON(okBody{Type: "write_ok"})
	case "cas":
		v, ok := kv[key]
		if !ok {
			return mustJSON(errBody{"error", codeNotFound, "key does not exist"})
		}
		if !bytes.Equal(v, op.From) {
			return mustJSON(errBody{"error", codePrecond, fmt.Sprintf("expected %s, had %s", op.From, v)})
		}
		kv[key] = op.To
		return mustJSON(okBody{Type: "cas_ok"})
	}
	return mustJSON(errBody{"error", codeMalformed, "unknown operation " + op.F})
}
