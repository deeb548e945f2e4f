package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// The grader's key-value services.
const (
	LinKV = "lin-kv" // linearizable
	SeqKV = "seq-kv" // sequentially consistent: reads may be stale
	LWWKV = "lww-kv" // last-write-wins replicas that never converge
)

// KV is a client of one of the grader's key-value services. Keys and
// values are any JSON values. Errors come back as *RPCError:
// KeyDoesNotExist, PreconditionFailed, or Timeout-like indefinite ones.
type KV struct {
	n    *Node
	kind string
}

// NewKV returns a client of the service kind (LinKV, SeqKV or LWWKV).
func NewKV(n *Node, kind string) *KV { return &KV{n: n, kind: kind} }

type kvRead struct {
	Type string `json:"type"`
	Key  any    `json:"key"`
}

type kvWrite struct {
	Type  string `json:"type"`
	Key   any    `json:"key"`
	Value any    `json:"value"`
}

type kvCAS struct {
	Type   string `json:"type"`
	Key    any    `json:"key"`
	From   any    `json:"from"`
	To     any    `json:"to"`
	Create bool   `json:"create_if_not_exists,omitempty"`
}

func (kv *KV) readRaw(ctx context.Context, key any) (json.RawMessage, error) {
	resp, err := Call[struct {
		Value json.RawMessage `json:"value"`
	}](ctx, kv.n, kv.kind, kvRead{Type: "read", Key: key})
	if err != nil {
		return nil, fmt.Errorf("%s read %v: %w", kv.kind, key, err)
	}
	return resp.Value, nil
}

// Read returns the value of key. JSON integers come back as int, other
// numbers as float64, objects as map[string]any, arrays as []any.
func (kv *KV) Read(ctx context.Context, key any) (any, error) {
	raw, err := kv.readRaw(ctx, key)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s read %v: decode value: %w", kv.kind, key, err)
	}
	if num, ok := v.(json.Number); ok {
		if i, err := num.Int64(); err == nil {
			return int(i), nil
		}
		f, err := num.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s read %v: decode number %s: %w", kv.kind, key, num, err)
		}
		return f, nil
	}
	return v, nil
}

// ReadInt returns the value of key, which must be an integer.
func (kv *KV) ReadInt(ctx context.Context, key any) (int, error) {
	var i int
	if err := kv.ReadInto(ctx, key, &i); err != nil {
		return 0, err
	}
	return i, nil
}

// ReadInto decodes the value of key into v (a pointer).
func (kv *KV) ReadInto(ctx context.Context, key any, v any) error {
	raw, err := kv.readRaw(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s read %v: value %s does not decode into %T: %w", kv.kind, key, truncate(raw), v, err)
	}
	return nil
}

// Write sets key to value.
func (kv *KV) Write(ctx context.Context, key, value any) error {
	if _, err := kv.n.SyncRPC(ctx, kv.kind, kvWrite{Type: "write", Key: key, Value: value}); err != nil {
		return fmt.Errorf("%s write %v: %w", kv.kind, key, err)
	}
	return nil
}

// CompareAndSwap sets key to `to` if its value is `from`. With create, a
// missing key is created (lin-kv and seq-kv only). It fails with
// PreconditionFailed on a mismatch and KeyDoesNotExist on a missing key.
func (kv *KV) CompareAndSwap(ctx context.Context, key, from, to any, create bool) error {
	if _, err := kv.n.SyncRPC(ctx, kv.kind, kvCAS{Type: "cas", Key: key, From: from, To: to, Create: create}); err != nil {
		return fmt.Errorf("%s cas %v: %w", kv.kind, key, err)
	}
	return nil
}

// TSO is a client of the grader's lin-tso timestamp oracle.
type TSO struct{ n *Node }

// NewTSO returns a lin-tso client.
func NewTSO(n *Node) *TSO { return &TSO{n: n} }

// Next returns a fresh timestamp, larger than every one handed out before.
func (t *TSO) Next(ctx context.Context) (int64, error) {
	resp, err := Call[struct {
		TS *int64 `json:"ts"`
	}](ctx, t.n, "lin-tso", struct {
		Type string `json:"type"`
	}{"ts"})
	if err != nil {
		return 0, fmt.Errorf("lin-tso ts: %w", err)
	}
	if resp.TS == nil {
		return 0, fmt.Errorf("lin-tso ts: reply without ts")
	}
	return *resp.TS, nil
}
