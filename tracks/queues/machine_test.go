package queues

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// script drives a machine with commands the way the server builds them.
type script struct {
	t   *testing.T
	m   *machine
	seq uint64
	now int64
}

func newScript(t *testing.T, d Delivery) *script { return &script{t: t, m: newMachine(d)} }

func (s *script) run(c command) outcome {
	s.t.Helper()
	s.seq++
	c.Client, c.Seq, c.Now = "c1", s.seq, s.now
	data, _ := json.Marshal(c)
	raw, _ := s.m.Apply(s.seq, data).(json.RawMessage)
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		s.t.Fatalf("result %s: %v", raw, err)
	}
	return o
}

func (s *script) send(q string, msg int, group, dedup string) string {
	s.t.Helper()
	o := s.run(command{Op: "send", Queue: q, Body: json.RawMessage(fmt.Sprint(msg)), Group: group, Dedup: dedup})
	if o.Code != 0 || o.ID == "" {
		s.t.Fatalf("send %d: %+v", msg, o)
	}
	return o.ID
}

func (s *script) receive(q string, max int, vis time.Duration) []delivery {
	return s.run(command{Op: "receive", Queue: q, Max: max, Vis: int64(vis)}).Msgs
}

func bodies(ds []delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, string(d.Msg))
	}
	return out
}

func TestVisibilityTimeoutRedeliversUnacknowledged(t *testing.T) {
	s := newScript(t, AtLeastOnce)
	s.send("q", 1, "", "")
	s.send("q", 2, "", "")
	got := s.receive("q", 10, time.Second)
	if !slices.Equal(bodies(got), []string{"1", "2"}) {
		t.Fatalf("first receive %v", bodies(got))
	}
	if again := s.receive("q", 10, time.Second); len(again) != 0 {
		t.Fatalf("in-flight messages delivered again: %v", bodies(again))
	}
	s.run(command{Op: "ack", Queue: "q", Receipts: []string{got[0].Receipt}})
	s.now += int64(time.Second)
	again := s.receive("q", 10, time.Second)
	if !slices.Equal(bodies(again), []string{"2"}) || again[0].ID != got[1].ID || again[0].Receipt == got[1].Receipt {
		t.Fatalf("after the timeout: %+v, want message 2 again, same id, new receipt", again)
	}
	// The old receipt is stale: it neither extends nor deletes.
	if ext := s.run(command{Op: "extend", Queue: "q", Receipts: []string{got[1].Receipt}, Vis: int64(time.Hour)}).Extended; len(ext) != 0 {
		t.Fatalf("stale receipt extended: %v", ext)
	}
	s.run(command{Op: "ack", Queue: "q", Receipts: []string{got[1].Receipt}})
	s.now += int64(time.Second)
	if last := s.receive("q", 10, time.Second); !slices.Equal(bodies(last), []string{"2"}) {
		t.Fatalf("a stale receipt deleted the message: %v", bodies(last))
	}
}

func TestExtendKeepsMessageHidden(t *testing.T) {
	s := newScript(t, AtLeastOnce)
	s.send("q", 1, "", "")
	got := s.receive("q", 1, time.Second)
	s.now += int64(500 * time.Millisecond)
	if ext := s.run(command{Op: "extend", Queue: "q", Receipts: []string{got[0].Receipt}, Vis: int64(3 * time.Second)}).Extended; len(ext) != 1 {
		t.Fatalf("extend: %v", ext)
	}
	s.now += int64(2 * time.Second)
	if again := s.receive("q", 1, time.Second); len(again) != 0 {
		t.Fatalf("extended message delivered: %v", bodies(again))
	}
	s.now += int64(2 * time.Second)
	if again := s.receive("q", 1, time.Second); len(again) != 1 {
		t.Fatal("message never came back after its extension ran out")
	}
}

func TestFIFOGroupsOneInFlightInOrder(t *testing.T) {
	s := newScript(t, AtLeastOnce)
	for i := range 3 {
		s.send("f.fifo", 10+i, "a", "")
		s.send("f.fifo", 20+i, "b", "")
	}
	got := s.receive("f.fifo", 10, time.Second)
	if !slices.Equal(bodies(got), []string{"10", "20"}) {
		t.Fatalf("first receive %v, want each group's head", bodies(got))
	}
	if more := s.receive("f.fifo", 10, time.Second); len(more) != 0 {
		t.Fatalf("delivered %v while the heads were in flight", bodies(more))
	}
	s.run(command{Op: "ack", Queue: "f.fifo", Receipts: []string{got[0].Receipt}})
	if more := s.receive("f.fifo", 10, time.Second); !slices.Equal(bodies(more), []string{"11"}) {
		t.Fatalf("after acking a's head: %v, want 11", bodies(more))
	}
	// b's head times out and comes back before anything behind it.
	s.now += int64(time.Second)
	more := s.receive("f.fifo", 10, time.Second)
	if !slices.Contains(bodies(more), "20") || slices.Contains(bodies(more), "21") {
		t.Fatalf("after b's head timed out: %v, want 20 again and not 21", bodies(more))
	}
	if o := s.run(command{Op: "send", Queue: "f.fifo", Body: json.RawMessage("1")}); o.Code == 0 {
		t.Fatal("a FIFO send without a group was accepted")
	}
}

func TestDeduplicationByDelivery(t *testing.T) {
	for _, d := range []Delivery{AtMostOnce, AtLeastOnce, ExactlyOnce} {
		s := newScript(t, d)
		a := s.send("q", 1, "", "d1")
		b := s.send("q", 1, "", "d1")
		if got := len(s.receive("q", 10, time.Second)); (a == b) != (d != AtLeastOnce) || got != map[bool]int{true: 1, false: 2}[a == b] {
			t.Fatalf("%s: ids %s %s, %d stored", d, a, b, got)
		}
	}
	s := newScript(t, ExactlyOnce)
	a := s.send("q", 1, "", "d1")
	s.now += DedupWindow + 1
	if b := s.send("q", 1, "", "d1"); b == a {
		t.Fatal("a de-duplication id outlived its window")
	}
}

func TestAtMostOnceDeletesOnReceive(t *testing.T) {
	for _, q := range []string{"q", "f.fifo"} {
		s := newScript(t, AtMostOnce)
		s.send(q, 1, "g", "")
		s.send(q, 2, "g", "")
		first := s.receive(q, 1, time.Second)
		s.now += int64(time.Hour)
		rest := s.receive(q, 10, time.Second)
		if !slices.Equal(bodies(first), []string{"1"}) || !slices.Equal(bodies(rest), []string{"2"}) {
			t.Fatalf("%s: %v then %v, want 1 then only 2", q, bodies(first), bodies(rest))
		}
	}
}

func TestSnapshotRestoreKeepsReceipts(t *testing.T) {
	s := newScript(t, ExactlyOnce)
	s.send("q", 1, "", "d1")
	s.send("f.fifo", 2, "g", "d2")
	s.send("f.fifo", 3, "g", "d3")
	got := s.receive("q", 1, time.Second)
	fifo := s.receive("f.fifo", 1, time.Second)
	snap, err := s.m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := newMachine(ExactlyOnce)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	s.m = restored
	s.run(command{Op: "ack", Queue: "q", Receipts: []string{got[0].Receipt}})
	s.run(command{Op: "ack", Queue: "f.fifo", Receipts: []string{fifo[0].Receipt}})
	if b := s.send("q", 1, "", "d1"); b != got[0].ID {
		t.Fatalf("de-duplication lost in the snapshot: %s vs %s", b, got[0].ID)
	}
	s.now += int64(time.Hour)
	if rest := s.receive("q", 10, time.Second); len(rest) != 0 {
		t.Fatalf("acknowledged message back after restore: %v", bodies(rest))
	}
	if rest := s.receive("f.fifo", 10, time.Second); !slices.Equal(bodies(rest), []string{"3"}) {
		t.Fatalf("fifo after restore: %v, want 3", bodies(rest))
	}
}

func TestRetriedCommandAppliedOnce(t *testing.T) {
	m := newMachine(AtLeastOnce)
	send, _ := json.Marshal(command{Client: "c1", Seq: 1, Op: "send", Queue: "q", Body: json.RawMessage("1")})
	recv, _ := json.Marshal(command{Client: "c1", Seq: 2, Op: "receive", Queue: "q", Max: 1, Vis: int64(time.Second)})
	m.Apply(1, send)
	first := m.Apply(2, recv).(json.RawMessage)
	second := m.Apply(3, recv).(json.RawMessage)
	if string(first) != string(second) || m.Next != 1 {
		t.Fatalf("retry gave %s after %s", second, first)
	}
}
