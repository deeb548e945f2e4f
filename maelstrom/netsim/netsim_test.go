package netsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type got struct {
	at  time.Duration
	msg Message
}

// collect registers id and records what it receives and when.
func collect(n *Net, id string) (func() []got, func()) {
	var mu sync.Mutex
	var out []got
	n.Register(id, func(m Message) {
		mu.Lock()
		out = append(out, got{n.Since(), m})
		mu.Unlock()
	})
	return func() []got {
		mu.Lock()
		defer mu.Unlock()
		return append([]got(nil), out...)
	}, func() {}
}

func body(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"type":"m","i":%d}`, i)) }

func TestLatencyOnlyBetweenServers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := New(Config{Latency: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		n0, _ := collect(n, "n0")
		c0, _ := collect(n, "c0")
		collect(n, "n1")
		if id, _ := n.Send("n1", "n0", body(0)); id != 0 {
			t.Fatalf("first id %d, want 0", id)
		}
		if id, _ := n.Send("n1", "c0", body(1)); id != 1 {
			t.Fatalf("second id %d, want 1", id)
		}
		synctest.Wait()
		if len(c0()) != 1 || c0()[0].at != 0 {
			t.Fatalf("client message not delivered at once: %+v", c0())
		}
		if len(n0()) != 0 {
			t.Fatal("server message delivered before its latency")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if g := n0(); len(g) != 1 || g[0].at != 100*time.Millisecond || g[0].msg.Src != "n1" {
			t.Fatalf("server message: %+v, want one from n1 at 100ms", g)
		}
		s := n.Stats()
		if s.All.MsgCount != 2 || s.Clients.RecvCount != 1 || s.Servers.RecvCount != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestRandomLatencyReordersButDeliversInDeadlineOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, _ := New(Config{Latency: 50 * time.Millisecond, Dist: Uniform, Seed: 3})
		defer n.Close()
		n0, _ := collect(n, "n0")
		collect(n, "n1")
		for i := range 50 {
			n.Send("n1", "n0", body(i))
		}
		time.Sleep(time.Second)
		g := n0()
		if len(g) != 50 {
			t.Fatalf("delivered %d of 50", len(g))
		}
		reordered := false
		for i := 1; i < len(g); i++ {
			if g[i].at < g[i-1].at {
				t.Fatalf("delivery %d at %v before delivery %d at %v", i, g[i].at, i-1, g[i-1].at)
			}
			if g[i].msg.ID < g[i-1].msg.ID {
				reordered = true
			}
			if g[i].at > 100*time.Millisecond {
				t.Fatalf("uniform latency above 2×mean: %v", g[i].at)
			}
		}
		if !reordered {
			t.Fatal("uniform latency never reordered 50 messages")
		}
	})
}

func TestPartitionDropsPerReceiverAndSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, _ := New(Config{})
		defer n.Close()
		n0, _ := collect(n, "n0")
		n1, _ := collect(n, "n1")
		collect(n, "n2")
		n.Partition(map[string][]string{"n0": {"n1"}})
		n.Send("n1", "n0", body(1)) // dropped
		n.Send("n2", "n0", body(2)) // delivered
		n.Send("n0", "n1", body(3)) // one-way rule: delivered
		synctest.Wait()
		if len(n0()) != 1 || n0()[0].msg.Src != "n2" || len(n1()) != 1 {
			t.Fatalf("n0 got %+v, n1 got %+v", n0(), n1())
		}
		n.Heal()
		n.Send("n1", "n0", body(4))
		synctest.Wait()
		if len(n0()) != 2 {
			t.Fatalf("after heal n0 got %+v", n0())
		}
		s := n.Stats()
		if s.Dropped != 1 || s.All.SendCount != 4 || s.All.RecvCount != 3 {
			t.Fatalf("stats %+v", s)
		}
		j := n.Journal()
		if len(j) != 7 || j[0].Kind != "send" {
			t.Fatalf("journal has %d events, want 4 sends + 3 receives", len(j))
		}
	})
}

func TestUnknownEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, _ := New(Config{})
		defer n.Close()
		collect(n, "n0")
		if _, err := n.Send("n0", "c9", body(0)); !errors.Is(err, ErrUnknownEndpoint) {
			t.Fatalf("send to unknown: %v", err)
		}
		if _, err := n.Send("nx", "n0", body(0)); !errors.Is(err, ErrUnknownEndpoint) {
			t.Fatalf("send from unknown: %v", err)
		}
	})
}

func TestClientRPCMatchesReplyAndTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, _ := New(Config{})
		defer n.Close()
		silent := false
		n.Register("n0", func(m Message) {
			if silent {
				return
			}
			var b struct {
				MsgID int64 `json:"msg_id"`
			}
			json.Unmarshal(m.Body, &b)
			// A stray reply first, then the real one.
			n.Send("n0", m.Src, json.RawMessage(fmt.Sprintf(`{"type":"x","in_reply_to":%d}`, b.MsgID+100)))
			n.Send("n0", m.Src, json.RawMessage(fmt.Sprintf(`{"type":"ok","in_reply_to":%d}`, b.MsgID)))
		})
		c := n.NewClient("c0")
		defer c.Close()
		raw, err := c.RPC(context.Background(), "n0", map[string]any{"type": "q"}, time.Second)
		if err != nil || string(raw) != `{"type":"ok","in_reply_to":1}` {
			t.Fatalf("RPC = %s, %v", raw, err)
		}
		silent = true
		start := time.Now()
		if _, err := c.RPC(context.Background(), "n0", map[string]any{"type": "q"}, 5*time.Second); !errors.Is(err, ErrTimeout) {
			t.Fatalf("want timeout, got %v", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("timed out after %v", d)
		}
	})
}

// BenchmarkThroughput routes messages around a ring of 25 endpoints, each
// forwarding what it receives, on the real clock.
func BenchmarkThroughput(b *testing.B) {
	for _, journal := range []bool{true, false} {
		b.Run(fmt.Sprintf("journal=%v", journal), func(b *testing.B) {
			n, _ := New(Config{NoJournal: !journal})
			const nodes = 25
			const total = 200000
			var delivered atomic.Int64
			done := make(chan struct{})
			for i := range nodes {
				id, next := fmt.Sprintf("n%d", i), fmt.Sprintf("n%d", (i+1)%nodes)
				n.Register(id, func(m Message) {
					if delivered.Add(1) == total {
						close(done)
					}
					if delivered.Load() < total {
						n.Send(id, next, m.Body)
					}
				})
			}
			b.ResetTimer()
			start := time.Now()
			for i := range 4 * nodes { // several messages in flight per endpoint
				n.Send(fmt.Sprintf("n%d", i%nodes), fmt.Sprintf("n%d", (i+1)%nodes), body(i))
			}
			<-done
			el := time.Since(start)
			b.StopTimer()
			n.Close()
			b.ReportMetric(float64(total)/el.Seconds(), "msgs/s")
		})
	}
}

func TestDownEndpointDropsAndJournalsAsSentOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		n.Register("n0", func(Message) {})
		got, _ := collect(n, "n1")
		n.SetDown("n1", true)
		if _, err := n.Send("n0", "n1", body(1)); err != nil {
			t.Fatalf("send to a dead node must not fail: %v", err)
		}
		synctest.Wait()
		n.SetDown("n1", false)
		if _, err := n.Send("n0", "n1", body(2)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if g := got(); len(g) != 1 || string(g[0].msg.Body) != string(body(2)) {
			t.Fatalf("received %v, want only the message sent after the node came back", g)
		}
		if s := n.Stats(); s.Dropped != 1 || s.All.SendCount != 2 || s.All.RecvCount != 1 {
			t.Fatalf("stats %+v, want 2 sent, 1 received, 1 dropped", s)
		}
		recvs := 0
		for _, e := range n.Journal() {
			if e.Kind == "recv" {
				recvs++
			}
		}
		if recvs != 1 {
			t.Fatalf("journal has %d deliveries, want 1", recvs)
		}
	})
}

// inReplyTo's fast path must agree with decoding into a *int64 field.
func TestInReplyToMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"in_reply_to":3}`, `{"type":"read_ok","messages":[1,2,3],"in_reply_to":7}`,
		`{"in_reply_to":1,"in_reply_to":2}`, `{"IN_REPLY_TO":4}`, `{"in_reply_to":5,"In_Reply_To":6}`,
		`{"in_reply_to":null}`, `{"in_reply_to":1.0}`, `{"in_reply_to":"1"}`, `{"in_reply\u005fto":8}`,
		`{"x":{"in_reply_to":9}}`, `{"in_reply_to":-2}`, `{"in_reply_to":99999999999999999999}`,
	} {
		var hdr struct {
			InReplyTo *int64 `json:"in_reply_to"`
		}
		wantOK := json.Unmarshal([]byte(in), &hdr) == nil && hdr.InReplyTo != nil
		got, ok := inReplyTo(json.RawMessage(in))
		if ok != wantOK || (ok && got != *hdr.InReplyTo) {
			t.Errorf("inReplyTo(%s) = %d, %v; encoding/json gives %v, %v", in, got, ok, hdr.InReplyTo, wantOK)
		}
	}
}

func TestQueuePopsInDeadlineThenSendOrder(t *testing.T) {
	var q queue
	base := time.Unix(0, 0)
	rng := rand.New(rand.NewPCG(1, 1))
	for seq := range int64(5000) {
		q.push(item{deadline: base.Add(time.Duration(rng.IntN(50)) * time.Millisecond), seq: seq})
		if rng.IntN(3) == 0 {
			q.pop()
		}
	}
	prev := q.pop()
	for len(q) > 0 {
		it := q.pop()
		if it.deadline.Before(prev.deadline) || (it.deadline.Equal(prev.deadline) && it.seq < prev.seq) {
			t.Fatalf("popped (%v, %d) after (%v, %d)", it.deadline, it.seq, prev.deadline, prev.seq)
		}
		prev = it
	}
}
