package workload

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

func TestClockMessagesPairSendsWithDeliveries(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(at int, kind string, id int64, src, dest, body string) netsim.Event {
		return netsim.Event{Time: ms(at), Kind: kind, Message: netsim.Message{ID: id, Src: src, Dest: dest, Body: json.RawMessage(body)}}
	}
	journal := []netsim.Event{
		ev(1, "send", 0, "c3", "n0", `{"type":"send","to":"n1","msg_id":1}`),
		ev(2, "send", 1, "n0", "n1", `{"type":"stamp","event":"n0-1","ts":1}`),
		ev(3, "send", 2, "n1", "n0", `{"type":"stamp","event":"n1-1","ts":1}`), // dropped
		ev(4, "send", 3, "nemesis", "n0", `{"type":"maelstrom_clock","offset_ns":5,"event":"x"}`),
		ev(5, "send", 4, "n0", "n1", `{"type":"stamp","payload":{"event":"n0-2"}}`),
		ev(6, "send", 5, "n1", "n0", `{"type":"stamp","event":{"id":"n1-2"}}`),
		ev(12, "recv", 1, "n0", "n1", `{"type":"stamp","event":"n0-1","ts":1}`),
		ev(15, "recv", 4, "n0", "n1", `{"type":"stamp","payload":{"event":"n0-2"}}`),
	}
	got, unlabelled := clockMessages(journal, []string{"n0", "n1"})
	wantUn := []checker.ClockMessage{
		{ID: 4, Src: "n0", Dest: "n1", Sent: ms(5), Delivered: ms(15), Problem: `no top-level "event" field (its body has payload, type)`},
		{ID: 5, Src: "n1", Dest: "n0", Sent: ms(6), Delivered: -1, Problem: `"event" is {"id":"n1-2"}, not a string event id`},
	}
	if len(unlabelled) != 2 || unlabelled[0] != wantUn[0] || unlabelled[1] != wantUn[1] {
		t.Errorf("unlabelled = %+v\nwant %+v", unlabelled, wantUn)
	}
	want := []checker.ClockMessage{
		{ID: 1, Src: "n0", Dest: "n1", Event: "n0-1", Sent: ms(2), Delivered: ms(12)},
		{ID: 2, Src: "n1", Dest: "n0", Event: "n1-1", Sent: ms(3), Delivered: -1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("clockMessages = %+v\nwant %+v", got, want)
	}
}

func TestClockSkewBoundFromNemesisRecord(t *testing.T) {
	nem := func(at time.Duration, s nemesis.ClockSettings) history.Op {
		return history.Op{Type: history.Info, Process: -1, F: "start-clock", Value: s, Time: at}
	}
	h := history.History{
		nem(0, nemesis.ClockSettings{"n0": {OffsetNS: int64(-200 * time.Millisecond), DriftPPM: 100}, "n1": {OffsetNS: int64(50 * time.Millisecond)}}),
		nem(10*time.Second, nemesis.ClockSettings{"n0": {}, "n1": {}}),
		{Type: history.OK, Process: 0, F: "log", Time: 20 * time.Second},
	}
	// n0: 200 ms + 100 ppm of (10 s + 2 × 5 ms latency + 1 s slack).
	want := 200*time.Millisecond + time.Duration(float64(11010*time.Millisecond)*100/1e6)
	if got := clockSkewBound(h, 5*time.Millisecond); got != want {
		t.Fatalf("bound = %v, want %v", got, want)
	}
	if got := clockSkewBound(h[2:], 5*time.Millisecond); got != 0 {
		t.Fatalf("bound without the clock nemesis = %v, want 0", got)
	}
}

func TestClocksSpecRefusesBadParams(t *testing.T) {
	spec, err := Lookup("clocks")
	if err != nil {
		t.Fatal(err)
	}
	base := Params{NodeIDs: []string{"n0", "n1", "n2"}, Concurrency: 3, Rand: rand.New(rand.NewPCG(1, 1))}
	bad := base
	bad.Timestamps = "sundial"
	if _, err := spec.New(bad); err == nil {
		t.Fatal("unknown timestamp kind accepted")
	}
	bad = base
	bad.Concurrency = 2
	if _, err := spec.New(bad); err == nil {
		t.Fatal("fewer clients than nodes accepted: some log would never be read")
	}
	inst, err := spec.New(base)
	if err != nil {
		t.Fatal(err)
	}
	for thread := range 3 {
		for range 50 {
			inv := inst.Next(thread, thread)
			if op := inv.Value.(checker.ClockOp); inv.F == "send" && (op.To == base.NodeIDs[thread] || op.To == "") {
				t.Fatalf("thread %d (node %s) sends to %q", thread, base.NodeIDs[thread], op.To)
			}
		}
		if f := inst.Final(thread); len(f) != 1 || f[0].F != "log" {
			t.Fatalf("final ops of thread %d: %v", thread, f)
		}
	}
	if f := inst.Final(3); len(f) != 0 {
		t.Fatalf("thread 3 repeats a log read: %v", f)
	}
}
