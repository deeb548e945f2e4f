package checker

import "testing"

func qsend(q, g string, msg int64, id string) QueueSend {
	return QueueSend{Queue: q, Group: g, Msg: msg, Dedup: "d", ID: id}
}

func qdel(id string, msg int64, g, receipt string) QueueDelivery {
	return QueueDelivery{ID: id, Msg: msg, Group: g, Receipt: receipt}
}

// fifoHistory: messages 1 then 2 in group g; message 1 is received at 10
// ms, 2 at 30 ms; ackAt is when message 1 is acknowledged.
func fifoHistory(ackAt int) *builder {
	b := &builder{}
	b.inv(0, "n0", "send", qsend("f.fifo", "g", 1, ""), 0).ok(0, "n0", "send", qsend("f.fifo", "g", 1, "m1"), 1)
	b.inv(0, "n0", "send", qsend("f.fifo", "g", 2, ""), 2).ok(0, "n0", "send", qsend("f.fifo", "g", 2, "m2"), 3)
	r1 := QueueReceive{Queue: "f.fifo", Max: 10, VisibilityMs: 1000}
	b.inv(1, "n0", "receive", r1, 10)
	r1.Msgs = []QueueDelivery{qdel("m1", 1, "g", "m1.1")}
	b.ok(1, "n0", "receive", r1, 11)
	ack := QueueAck{Queue: "f.fifo", Msgs: r1.Msgs, Applied: []bool{true}}
	r2 := QueueReceive{Queue: "f.fifo", Max: 10, VisibilityMs: 1000}
	b.inv(1, "n0", "ack", ack, ackAt).ok(1, "n0", "ack", ack, ackAt+1)
	b.inv(2, "n0", "receive", r2, 30)
	r2.Msgs = []QueueDelivery{qdel("m2", 2, "g", "m2.1")}
	b.ok(2, "n0", "receive", r2, 31)
	ack2 := QueueAck{Queue: "f.fifo", Msgs: r2.Msgs, Applied: []bool{true}}
	b.inv(2, "n0", "ack", ack2, 40).ok(2, "n0", "ack", ack2, 41)
	return b
}

func TestQueueFIFOOrderAndInFlight(t *testing.T) {
	if res := Queue(fifoHistory(20).h, AtLeastOnce); res.Valid != Valid {
		t.Fatalf("in order: %s", res.Summary)
	}
	// Message 1 acknowledged only after 2 was handed out: 2 came while 1
	// was in flight, and before 1 was done.
	res := Queue(fifoHistory(35).h, AtLeastOnce)
	whats := map[string]bool{}
	for _, v := range res.Violations {
		whats[v.What] = true
	}
	if res.Valid != Invalid || !whats["out of order"] || !whats["two of a group in flight"] {
		t.Fatalf("out of order accepted: %s %v", res.Summary, whats)
	}
}

func TestQueueLostAndDuplicateEffects(t *testing.T) {
	b := &builder{}
	b.inv(0, "n0", "send", qsend("q", "", 1, ""), 0).ok(0, "n0", "send", qsend("q", "", 1, "m1"), 1)
	b.inv(0, "n0", "send", qsend("q", "", 1, ""), 2).ok(0, "n0", "send", qsend("q", "", 1, "m2"), 3)
	r := QueueReceive{Queue: "q", Max: 10, VisibilityMs: 1000}
	b.inv(1, "n0", "receive", r, 10)
	r.Msgs = []QueueDelivery{qdel("m1", 1, "", "m1.1"), qdel("m2", 1, "", "m2.1")}
	b.ok(1, "n0", "receive", r, 11)
	ack := QueueAck{Queue: "q", Msgs: r.Msgs, Applied: []bool{true, true}}
	b.inv(1, "n0", "ack", ack, 12).ok(1, "n0", "ack", ack, 13)
	if res := Queue(b.h, AtLeastOnce); res.Valid != Valid || res.Details.(QueueDetails).Duplicates != 1 {
		t.Fatalf("at least once: %s", res.Summary)
	}
	if res := Queue(b.h, ExactlyOnce); res.Valid != Invalid || res.First().What != "duplicate effect" {
		t.Fatalf("exactly once: %s", res.Summary)
	}
	// A message sent but only ever handed to a consumer that crashed.
	b.inv(0, "n0", "send", qsend("q", "", 2, ""), 20).ok(0, "n0", "send", qsend("q", "", 2, "m3"), 21)
	r3 := QueueReceive{Queue: "q", Max: 10, VisibilityMs: 1000}
	b.inv(2, "n0", "receive", r3, 30)
	r3.Msgs = []QueueDelivery{qdel("m3", 2, "", "m3.1")}
	b.ok(2, "n0", "receive", r3, 31)
	crash := QueueCrash{Queue: "q", Msgs: r3.Msgs, Applied: []bool{false}}
	b.inv(2, "n0", "crash", crash, 32).info(2, "n0", "crash", crash, 32)
	res := Queue(b.h, AtLeastOnce)
	if res.Valid != Invalid || res.First().What != "lost message" || res.First().Value != int64(2) {
		t.Fatalf("loss accepted: %s", res.Summary)
	}
	// At most once: the loss is counted; message 1, stored twice, was
	// delivered twice.
	if res := Queue(b.h, AtMostOnce); res.First().What != "duplicate delivery" || res.Details.(QueueDetails).Lost != 1 {
		t.Fatalf("at most once: %s", res.Summary)
	}
}

func TestQueueUnknownReceiveMayHaveTakenFIFOMessage(t *testing.T) {
	b := &builder{}
	b.inv(0, "n0", "send", qsend("f.fifo", "g", 1, ""), 0).ok(0, "n0", "send", qsend("f.fifo", "g", 1, "m1"), 1)
	b.inv(0, "n0", "send", qsend("f.fifo", "g", 2, ""), 2).ok(0, "n0", "send", qsend("f.fifo", "g", 2, "m2"), 3)
	r := QueueReceive{Queue: "f.fifo", Max: 10, VisibilityMs: 1000}
	b.inv(1, "n0", "receive", r, 5).info(1, "n0", "receive", nil, 1005)
	b.inv(2, "n0", "receive", r, 1010)
	r.Msgs = []QueueDelivery{qdel("m2", 2, "g", "m2.1")}
	b.ok(2, "n0", "receive", r, 1011)
	if res := Queue(b.h, AtMostOnce); res.Valid != Valid {
		t.Fatalf("a lost receive may have deleted message 1: %s", res.Summary)
	}
	b.h = b.h[:4] // without the unknown receive, message 2 overtook 1
	b.inv(2, "n0", "receive", QueueReceive{Queue: "f.fifo", Max: 10, VisibilityMs: 1000}, 1010)
	b.ok(2, "n0", "receive", r, 1011)
	if res := Queue(b.h, AtMostOnce); res.Valid != Invalid || res.First().What != "out of order" {
		t.Fatalf("reorder accepted: %s", res.Summary)
	}
}
