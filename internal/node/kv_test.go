package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"testing/synctest"
)

// fakeServices answers the node's lin-kv and lin-tso requests like the
// grader's services do, until the node's output ends; then it closes done.
func fakeServices(h *harness, done chan<- struct{}) {
	store := map[string]json.RawMessage{} // canonical key JSON -> value JSON
	var ts int64
	go func() {
		defer close(done)
		for {
			line, err := h.r.ReadString('\n')
			if err != nil {
				return
			}
			var m outMsg
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				panic(err)
			}
			var req struct {
				Type   string          `json:"type"`
				MsgID  int             `json:"msg_id"`
				Key    json.RawMessage `json:"key"`
				Value  json.RawMessage `json:"value"`
				From   json.RawMessage `json:"from"`
				To     json.RawMessage `json:"to"`
				Create bool            `json:"create_if_not_exists"`
			}
			b, _ := json.Marshal(m.Body)
			if err := json.Unmarshal(b, &req); err != nil {
				panic(err)
			}
			k := string(req.Key)
			reply := func(body string) {
				// After EOF the node's stdin is closed; the write fails harmlessly.
				_, _ = h.in.Write(fmt.Appendf(nil, "{\"src\":%q,\"dest\":\"n1\",\"body\":%s}\n", m.Dest, body))
			}
			cur, ok := store[k]
			switch req.Type {
			case "ts":
				reply(fmt.Sprintf(`{"type":"ts_ok","in_reply_to":%d,"ts":%d}`, req.MsgID, ts))
				ts++
			case "read":
				if !ok {
					reply(fmt.Sprintf(`{"type":"error","in_reply_to":%d,"code":20,"text":"key does not exist"}`, req.MsgID))
				} else {
					reply(fmt.Sprintf(`{"type":"read_ok","in_reply_to":%d,"value":%s}`, req.MsgID, cur))
				}
			case "write":
				store[k] = req.Value
				reply(fmt.Sprintf(`{"type":"write_ok","in_reply_to":%d}`, req.MsgID))
			case "cas":
				switch {
				case !ok && !req.Create:
					reply(fmt.Sprintf(`{"type":"error","in_reply_to":%d,"code":20,"text":"key does not exist"}`, req.MsgID))
				case ok && string(cur) != string(req.From):
					reply(fmt.Sprintf(`{"type":"error","in_reply_to":%d,"code":22,"text":"current value %s is not %s"}`, req.MsgID, cur, req.From))
				default:
					store[k] = req.To
					reply(fmt.Sprintf(`{"type":"cas_ok","in_reply_to":%d}`, req.MsgID))
				}
			}
		}
	}()
}

func TestKVClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil)
		h.init()
		fakeDone := make(chan struct{})
		fakeServices(h, fakeDone)
		ctx := context.Background()
		kv := NewKV(h.n, LinKV)

		if _, err := kv.Read(ctx, "x"); ErrorCode(err) != KeyDoesNotExist {
			t.Fatalf("read missing key: %v", err)
		}
		if err := kv.CompareAndSwap(ctx, "x", 0, 1, false); ErrorCode(err) != KeyDoesNotExist {
			t.Fatalf("cas on missing key without create: %v", err)
		}
		if err := kv.CompareAndSwap(ctx, "x", 0, 1, true); err != nil {
			t.Fatalf("cas create: %v", err)
		}
		if v, err := kv.Read(ctx, "x"); err != nil || v != 1 {
			t.Fatalf("read x = %v (%T), %v; want int 1", v, v, err)
		}
		if err := kv.CompareAndSwap(ctx, "x", 5, 6, false); ErrorCode(err) != PreconditionFailed {
			t.Fatalf("cas with wrong from: %v", err)
		}
		// Keys are JSON values, not only strings: 7 and "7" are different keys.
		if err := kv.Write(ctx, 7, []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Read(ctx, "7"); ErrorCode(err) != KeyDoesNotExist {
			t.Fatalf("string key 7 should be missing: %v", err)
		}
		var got []int
		if err := kv.ReadInto(ctx, 7, &got); err != nil || !reflect.DeepEqual(got, []int{1, 2}) {
			t.Fatalf("ReadInto: %v %v", got, err)
		}
		if _, err := kv.ReadInt(ctx, 7); err == nil {
			t.Fatal("ReadInt of a list succeeded")
		}
		if err := kv.Write(ctx, []any{"a", 1}, 2.5); err != nil {
			t.Fatal(err)
		}
		if v, err := kv.Read(ctx, []any{"a", 1}); err != nil || v != 2.5 {
			t.Fatalf("read list key: %v %v", v, err)
		}
		if i, err := kv.ReadInt(ctx, "x"); err != nil || i != 1 {
			t.Fatalf("ReadInt: %v %v", i, err)
		}

		tso := NewTSO(h.n)
		for want := range int64(3) {
			if got, err := tso.Next(ctx); err != nil || got != want {
				t.Fatalf("ts %d: got %d, %v", want, got, err)
			}
		}
		h.in.Close()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		if _, err := tso.Next(ctx); !errors.Is(err, ErrInputClosed) {
			t.Fatalf("ts after EOF: %v", err)
		}
		h.out.Close()
		<-fakeDone
		if p := h.n.pendingCallbacks(); p != 0 {
			t.Fatalf("%d callbacks left", p)
		}
	})
}
