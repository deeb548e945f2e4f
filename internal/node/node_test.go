package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestInitThenEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hookSaw string
		h := start(t, func(n *Node) {
			echoSetup(n)
			n.OnInit(func() error { hookSaw = n.ID(); return nil })
		})
		h.init("n1", "n2", "n3")
		if hookSaw != "n1" {
			t.Fatalf("OnInit saw id %q, want n1", hookSaw)
		}
		if got := h.n.Peers(); fmt.Sprint(got) != "[n2 n3]" {
			t.Fatalf("Peers() = %v", got)
		}
		h.send("c1", `{"type":"echo","msg_id":5,"echo":"hi"}`)
		m := h.recv()
		if m.Dest != "c1" || len(m.Body) != 3 || m.Body["type"] != "echo_ok" || m.Body["echo"] != "hi" || m.Body["in_reply_to"] != 5.0 {
			t.Fatalf("echo reply %s", m.raw)
		}
		if rest, _ := h.finish(); rest != "" {
			t.Fatalf("unexpected output %q", rest)
		}
	})
}

func TestUnknownTypeGetsNotSupportedAndNodeKeepsServing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, echoSetup)
		h.init()
		h.send("c1", `{"type":"frobnicate","msg_id":3}`)
		m := h.recv()
		if m.Body["type"] != "error" || m.Body["code"] != 10.0 || m.Body["in_reply_to"] != 3.0 {
			t.Fatalf("want error 10 in reply to 3, got %s", m.raw)
		}
		// Without msg_id nobody waits for an answer; an unsolicited error
		// must never be answered (two nodes would bounce errors forever).
		h.send("n2", `{"type":"frobnicate"}`)
		h.send("n2", `{"type":"error","code":10}`)
		h.send("c1", `{"type":"echo","msg_id":4,"echo":1}`)
		if m := h.recv(); m.Body["type"] != "echo_ok" {
			t.Fatalf("node stopped serving: %s", m.raw)
		}
		h.finish()
	})
}

func TestMalformedLinesAreLoggedAndSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, echoSetup)
		h.init()
		for _, bad := range []string{
			`this is not json`,
			`{"src":"c1","dest":"n1"`,
			`{"dest":"n1","body":{"type":"echo","msg_id":1}}`,
			`{"src":"c1","dest":"n1"}`,
			`{"src":"c1","dest":"n1","body":[1,2]}`,
			`{"src":"c1","dest":"n1","body":{"type":5,"msg_id":1}}`,
			`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":"one"}}`,
		} {
			h.line(bad)
		}
		h.line("")
		h.send("c1", `{"type":"echo","msg_id":9,"echo":"still here"}`)
		if m := h.recv(); m.Body["echo"] != "still here" || m.Body["in_reply_to"] != 9.0 {
			t.Fatalf("after bad lines: %s", m.raw)
		}
		rest, logs := h.finish()
		if rest != "" {
			t.Fatalf("bad lines produced output %q", rest)
		}
		if got := strings.Count(logs, "skipping"); got != 7 {
			t.Fatalf("want 7 skip warnings on stderr, got %d:\n%s", got, logs)
		}
	})
}

func TestOverlongLineSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, echoSetup)
		h.init()
		h.line(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":"` + strings.Repeat("x", MaxLineBytes) + `"}}`)
		h.send("c1", `{"type":"echo","msg_id":3,"echo":"short"}`)
		if m := h.recv(); m.Body["in_reply_to"] != 3.0 {
			t.Fatalf("got %s", m.raw)
		}
		if _, logs := h.finish(); !strings.Contains(logs, "longer than the limit") {
			t.Fatalf("no warning for overlong line:\n%s", logs)
		}
	})
}

func TestMessagesBeforeInitAreHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, echoSetup)
		h.send("n2", `{"type":"echo","msg_id":1,"echo":"early"}`)
		synctest.Wait()
		h.init("n1", "n2")
		if m := h.recv(); m.Src != "n1" || m.Dest != "n2" || m.Body["echo"] != "early" {
			t.Fatalf("held message answered as %s", m.raw)
		}
		h.finish()
	})
}

func TestHandlerErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, func(n *Node) {
			n.Handle("plain", func(Message) error { return errors.New("disk on fire") })
			n.Handle("wrapped", func(Message) error {
				return fmt.Errorf("lookup: %w", NewRPCError(KeyDoesNotExist, "no such key"))
			})
			n.Handle("timeout", func(Message) error { return NewRPCError(Timeout, "too slow") })
			HandleTyped(n, "typed", func(Message, struct {
				N int `json:"n"`
			}) (any, error) {
				return nil, nil
			})
		})
		h.init()
		for _, c := range []struct {
			body string
			code float64
		}{
			{`{"type":"plain","msg_id":1}`, Crash},
			{`{"type":"wrapped","msg_id":2}`, KeyDoesNotExist},
			{`{"type":"timeout","msg_id":3}`, Timeout},
			{`{"type":"typed","msg_id":4,"n":"not a number"}`, MalformedRequest},
		} {
			h.send("c1", c.body)
			m := h.recv()
			code, hasCode := m.Body["code"]
			if m.Body["type"] != "error" || !hasCode || code != c.code {
				t.Fatalf("%s: want error code %v, got %s", c.body, c.code, m.raw)
			}
		}
		// typed handler returning nil writes nothing.
		h.send("c1", `{"type":"typed","msg_id":5,"n":1}`)
		rest, logs := h.finish()
		if rest != "" {
			t.Fatalf("nil response wrote %q", rest)
		}
		if !strings.Contains(logs, "disk on fire") {
			t.Fatalf("crash not logged:\n%s", logs)
		}
	})
}

func TestDuplicateHandlerPanics(t *testing.T) {
	n := New(testIO())
	n.Handle("x", func(Message) error { return nil })
	defer func() {
		if recover() == nil {
			t.Fatal("second Handle(x) did not panic")
		}
	}()
	n.Handle("x", func(Message) error { return nil })
}

func TestManyConcurrentRPCs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const calls = 200
		var ok atomic.Int64
		h := start(t, func(n *Node) {
			n.Handle("go", func(Message) error {
				for i := range calls {
					go func() {
						resp, err := Call[struct {
							Double int `json:"double"`
						}](n.Context(), n, "n2", map[string]any{"type": "double", "x": i})
						if err == nil && resp.Double == 2*i {
							ok.Add(1)
						}
					}()
				}
				return nil
			})
		})
		h.init("n1", "n2")
		h.send("c1", `{"type":"go"}`)
		var reqs []outMsg
		for range calls {
			reqs = append(reqs, h.recv())
		}
		// Answer in reverse order: replies are matched by in_reply_to.
		for i := len(reqs) - 1; i >= 0; i-- {
			r := reqs[i]
			h.send("n2", fmt.Sprintf(`{"type":"double_ok","in_reply_to":%v,"double":%v}`, r.Body["msg_id"], 2*r.Body["x"].(float64)))
		}
		synctest.Wait()
		if ok.Load() != calls {
			t.Fatalf("%d of %d RPCs got the right answer", ok.Load(), calls)
		}
		if p := h.n.pendingCallbacks(); p != 0 {
			t.Fatalf("%d callbacks left", p)
		}
		h.finish()
	})
}

func TestSyncRPCContextEndRemovesCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil)
		h.init("n1", "n2")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := h.n.SyncRPC(ctx, "n2", map[string]any{"type": "ping"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want deadline exceeded, got %v", err)
		}
		if p := h.n.pendingCallbacks(); p != 0 {
			t.Fatalf("%d callbacks left after ctx ended", p)
		}
		req := h.recv()
		h.send("n2", fmt.Sprintf(`{"type":"pong","in_reply_to":%v}`, req.Body["msg_id"]))
		if _, logs := h.finish(); !strings.Contains(logs, "dropping reply with no waiting callback") {
			t.Fatalf("late reply not logged:\n%s", logs)
		}
	})
}

func TestRPCCallbackExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil)
		h.n.SetRPCTimeout(time.Second)
		h.init("n1", "n2")
		called := false
		if err := h.n.RPC("n2", map[string]any{"type": "ping"}, func(Message) error { called = true; return nil }); err != nil {
			t.Fatal(err)
		}
		req := h.recv()
		if h.n.pendingCallbacks() != 1 {
			t.Fatal("callback not registered")
		}
		time.Sleep(2 * time.Second)
		if p := h.n.pendingCallbacks(); p != 0 {
			t.Fatalf("callback still registered after the rpc timeout")
		}
		h.send("n2", fmt.Sprintf(`{"type":"pong","in_reply_to":%v}`, req.Body["msg_id"]))
		h.finish()
		if called {
			t.Fatal("expired callback was called")
		}
	})
}

func TestErrorCodeZeroIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil)
		h.init("n1", "n2")
		done := make(chan error)
		go func() {
			_, err := h.n.SyncRPC(context.Background(), "n2", map[string]any{"type": "ping"})
			done <- err
		}()
		req := h.recv()
		h.send("n2", fmt.Sprintf(`{"type":"error","in_reply_to":%v,"code":0,"text":"timed out"}`, req.Body["msg_id"]))
		err := <-done
		var rpcErr *RPCError
		if !errors.As(err, &rpcErr) || rpcErr.Code != Timeout || ErrorCode(err) != 0 {
			t.Fatalf("want *RPCError code 0, got %v", err)
		}
		h.finish()
	})
}

func TestEOFWaitsForInFlightHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := start(t, func(n *Node) {
			HandleTyped(n, "slow", func(Message, struct{}) (any, error) {
				<-release
				return MessageBody{Type: "slow_ok"}, nil
			})
		})
		h.init()
		h.send("c1", `{"type":"slow","msg_id":2}`)
		h.in.Close()
		synctest.Wait()
		select {
		case err := <-h.done:
			t.Fatalf("Run returned (%v) while a handler was in flight", err)
		default:
		}
		close(release)
		if m := h.recv(); m.Body["type"] != "slow_ok" {
			t.Fatalf("got %s", m.raw)
		}
		h.finish()
	})
}

func TestEOFFailsPendingSyncRPC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got error
		h := start(t, func(n *Node) {
			n.Handle("ask", func(Message) error {
				_, got = n.SyncRPC(context.Background(), "n2", map[string]any{"type": "q"})
				return nil
			})
		})
		h.init("n1", "n2")
		h.send("c1", `{"type":"ask"}`)
		h.recv() // the request to n2, never answered
		h.finish()
		if !errors.Is(got, ErrInputClosed) {
			t.Fatalf("want ErrInputClosed, got %v", got)
		}
	})
}

func TestCancelStopsPromptlyAndSilently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		replyErr := make(chan error, 1)
		h := start(t, func(n *Node) {
			n.Handle("slow", func(m Message) error {
				<-release
				n.Logger().Info("after kill")
				replyErr <- n.Reply(m, MessageBody{Type: "slow_ok"})
				return nil
			})
		})
		h.init()
		h.send("c1", `{"type":"slow","msg_id":2}`)
		synctest.Wait()
		h.cancel()
		if err := <-h.done; err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		close(release)
		if err := <-replyErr; !errors.Is(err, ErrStopped) {
			t.Fatalf("Reply after kill: %v, want ErrStopped", err)
		}
		h.send("c1", `{"type":"slow","msg_id":3}`) // must not be handled
		h.in.Close()
		synctest.Wait()
		h.out.Close()
		h.errp.Close()
		rest, _ := readAll(h)
		if rest != "" {
			t.Fatalf("node wrote after kill: %q", rest)
		}
	})
}

func TestEveryAndAfterRunAfterInitAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ticks, once atomic.Int64
		h := start(t, func(n *Node) {
			n.Every(100*time.Millisecond, func(context.Context) { ticks.Add(1) })
			n.After(250*time.Millisecond, func(context.Context) { once.Add(1) })
		})
		time.Sleep(time.Second)
		synctest.Wait()
		if ticks.Load() != 0 || once.Load() != 0 {
			t.Fatalf("tasks ran before init: %d ticks, %d once", ticks.Load(), once.Load())
		}
		h.init()
		time.Sleep(1050 * time.Millisecond)
		synctest.Wait()
		if got := ticks.Load(); got != 10 {
			t.Fatalf("want 10 ticks in 1.05s at 100ms, got %d", got)
		}
		if once.Load() != 1 {
			t.Fatalf("After ran %d times", once.Load())
		}
		h.finish()
		// synctest.Test fails if a ticker goroutine outlives the node.
		before := ticks.Load()
		time.Sleep(time.Second)
		if ticks.Load() != before {
			t.Fatal("Every kept running after the node stopped")
		}
	})
}

func TestEveryAlignedRunsOnTheIntervalsBoundaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		var mu sync.Mutex
		h := start(t, func(n *Node) {
			n.EveryAligned(100*time.Millisecond, func(context.Context) {
				mu.Lock()
				at = append(at, time.Duration(time.Now().UnixNano()%int64(time.Second)))
				mu.Unlock()
			})
		})
		// Start off a boundary: the runs must still fall on one.
		time.Sleep(130 * time.Millisecond)
		h.init()
		time.Sleep(1000 * time.Millisecond)
		synctest.Wait()
		h.finish()
		mu.Lock()
		defer mu.Unlock()
		if len(at) != 10 {
			t.Fatalf("want 10 runs in 1s at 100ms, got %d", len(at))
		}
		for _, d := range at {
			if d%(100*time.Millisecond) != 0 {
				t.Fatalf("a run at %v past the second, want multiples of 100ms: %v", d, at)
			}
		}
	})
}

func TestReplyBodyShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, func(n *Node) {
			n.Handle("fwd", func(m Message) error {
				// A body that already carries msg_id and in_reply_to keys
				// must come out with exactly one of each.
				return n.Reply(m, map[string]any{"type": "fwd_ok", "in_reply_to": 99, "msg_id": 1, "big": uint64(1) << 62})
			})
			n.Handle("empty", func(m Message) error { return n.Reply(m, struct{}{}) })
			n.Handle("notobj", func(m Message) error { return n.Reply(m, 5) })
		})
		h.init()
		h.send("c1", `{"type":"fwd","msg_id":4}`)
		m := h.recv()
		if m.Body["in_reply_to"] != 4.0 || strings.Count(m.raw, "in_reply_to") != 1 || !strings.Contains(m.raw, `"big":4611686018427387904`) {
			t.Fatalf("got %s", m.raw)
		}
		h.send("c1", `{"type":"empty","msg_id":6}`)
		if m := h.recv(); m.raw != `{"src":"n1","dest":"c1","body":{"in_reply_to":6}}`+"\n" {
			t.Fatalf("got %s", m.raw)
		}
		h.send("c1", `{"type":"notobj","msg_id":7}`)
		if m := h.recv(); m.Body["code"] != float64(Crash) {
			t.Fatalf("non-object body: %s", m.raw)
		}
		h.finish()
	})
}

func TestSendBeforeInitFails(t *testing.T) {
	n := New(testIO())
	if err := n.Send("n2", map[string]any{"type": "x"}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("got %v", err)
	}
}

// The grader's in-process kill cancels the context and closes stdin at
// once; Run must not mistake that for an orderly EOF and wait for handlers.
func TestKillWithStdinClosedDoesNotWaitForHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := start(t, func(n *Node) {
			n.Handle("slow", func(m Message) error {
				<-release
				_ = n.Reply(m, MessageBody{Type: "slow_ok"})
				return nil
			})
		})
		h.init()
		h.send("c1", `{"type":"slow","msg_id":2}`)
		synctest.Wait()
		h.cancel()
		h.in.Close()
		synctest.Wait()
		select {
		case err := <-h.done:
			if err != nil {
				t.Fatalf("Run after kill: %v", err)
			}
		default:
			t.Fatal("Run is waiting for a handler after a kill")
		}
		close(release)
		synctest.Wait()
		h.out.Close()
		h.errp.Close()
		if rest, _ := readAll(h); rest != "" {
			t.Fatalf("node wrote after kill: %q", rest)
		}
	})
}

func TestHandlerConcurrencyIsBoundedAndBacklogDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, peak, served atomic.Int64
		release := make(chan struct{})
		h := start(t, func(n *Node) {
			n.SetMaxConcurrentHandlers(3)
			n.Handle("work", func(m Message) error {
				now := running.Add(1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				<-release
				running.Add(-1)
				served.Add(1)
				return nil
			})
			// Replies must reach a waiting SyncRPC even with every slot busy.
			n.Handle("ask", func(m Message) error {
				_, err := n.SyncRPC(n.Context(), "n2", map[string]any{"type": "q"})
				return err
			})
		})
		h.init("n1", "n2")
		for range 3 {
			h.send("c1", `{"type":"ask"}`)
		}
		var asks []outMsg
		for range 3 {
			asks = append(asks, h.recv())
		}
		for range 10 {
			h.send("c1", `{"type":"work"}`)
		}
		for _, a := range asks {
			h.send("n2", fmt.Sprintf(`{"type":"q_ok","in_reply_to":%v}`, a.Body["msg_id"]))
		}
		synctest.Wait()
		if running.Load() != 3 {
			t.Fatalf("%d work handlers running, want 3 (the limit)", running.Load())
		}
		close(release)
		synctest.Wait()
		if served.Load() != 10 || peak.Load() != 3 {
			t.Fatalf("served %d of 10, peak concurrency %d (limit 3)", served.Load(), peak.Load())
		}
		h.finish()
	})
}
