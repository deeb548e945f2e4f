package checker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// clockRun scripts a clocks-workload run: clients' acknowledged events,
// the network's messages and each node's final log. Times are ms.
type clockRun struct {
	b     builder
	msgs  []ClockMessage
	logs  map[string][]ClockEvent
	nodes []string
	end   int
}

func newClockRun(nodes ...string) *clockRun {
	return &clockRun{logs: map[string][]ClockEvent{}, nodes: nodes}
}

func (r *clockRun) proc(node string) int { return slices.Index(r.nodes, node) }

// local: a client asks node for a local event at ms; it is logged.
func (r *clockRun) local(node, id, ts string, ms int) *clockRun {
	ev := ClockEvent{ID: id, Kind: "local", TS: json.RawMessage(ts)}
	r.b.call(history.OK, r.proc(node), node, "event", ClockOp{}, ClockOp{Event: &ev}, ms, ms+1)
	r.logs[node] = append(r.logs[node], ev)
	r.end = max(r.end, ms+1)
	return r
}

// send: a client asks from to send to to at ms; the message leaves at
// ms and arrives at ms+10, unless dropped.
func (r *clockRun) send(from, to, id, ts string, ms int, dropped bool) *clockRun {
	ev := ClockEvent{ID: id, Kind: "send", TS: json.RawMessage(ts)}
	r.b.call(history.OK, r.proc(from), from, "send", ClockOp{To: to}, ClockOp{To: to, Event: &ev}, ms, ms+1)
	r.logs[from] = append(r.logs[from], ev)
	m := ClockMessage{ID: int64(len(r.msgs)), Src: from, Dest: to, Event: id, Sent: msT(ms), Delivered: msT(ms + 10)}
	if dropped {
		m.Delivered = -1
	}
	r.msgs = append(r.msgs, m)
	r.end = max(r.end, ms+10)
	return r
}

// recv logs, at node, the receipt of send cause.
func (r *clockRun) recv(node, id, ts, cause string) *clockRun {
	r.logs[node] = append(r.logs[node], ClockEvent{ID: id, Kind: "recv", TS: json.RawMessage(ts), Cause: cause})
	return r
}

func (r *clockRun) check(kind string, mod func(*ClockParams)) (hb, log Result, all []Result) {
	b := r.b
	at := r.end + 1000
	for _, n := range r.nodes {
		b.call(history.OK, r.proc(n), n, "log", nil, r.logs[n], at, at+1)
		b.final()
	}
	p := ClockParams{Nodes: r.nodes, Kind: kind, Messages: r.msgs}
	if mod != nil {
		mod(&p)
	}
	all = Clocks(b.h, p)
	for _, res := range all {
		switch res.Checker {
		case "happens-before":
			hb = res
		case "clock-log":
			log = res
		}
	}
	return hb, log, all
}

// lamportRun: n0 has a local event and sends to n1, which receives and
// then has a local event; n2's event is concurrent with everything.
func lamportRun(recvTS string) *clockRun {
	return newClockRun("n0", "n1", "n2").
		local("n0", "a", "1", 100).
		send("n0", "n1", "s", "2", 200, false).
		recv("n1", "r", recvTS, "s").
		local("n1", "b", "4", 300).
		local("n2", "c", "1", 150)
}

func wantViolation(t *testing.T, res Result, valid Validity, parts ...string) *Violation {
	t.Helper()
	if res.Valid != valid {
		t.Fatalf("%s: %s, want %s: %s", res.Checker, res.Valid, valid, res.Summary)
	}
	if valid != Invalid {
		return nil
	}
	v := res.First()
	if v == nil {
		t.Fatalf("%s invalid without a violation", res.Checker)
	}
	for _, p := range parts {
		if !strings.Contains(v.Detail, p) && !strings.Contains(v.What, p) {
			t.Errorf("%s's first violation does not mention %q:\n%s: %s", res.Checker, p, v.What, v.Detail)
		}
	}
	return v
}

func TestClocksLamportValidCountsPairs(t *testing.T) {
	hb, log, all := lamportRun("3").check(ClockLamport, nil)
	wantViolation(t, log, Valid)
	wantViolation(t, hb, Valid)
	// a->s, a->r, s->r, a->b, s->b, r->b.
	if got := hb.Details.(map[string]any)["ordered_pairs"]; got != 6 {
		t.Fatalf("ordered pairs = %v, want 6", got)
	}
	if len(all) != 2 {
		t.Fatalf("a Lamport run has %d results, want clock-log and happens-before", len(all))
	}
}

func TestClocksLamportReceiptNotAfterSend(t *testing.T) {
	hb, log, _ := lamportRun("2").check(ClockLamport, nil)
	wantViolation(t, log, Valid)
	v := wantViolation(t, hb, Invalid, `n0's send event "s"`, `n1's recv event "r"`, "received the message", "2 is not less than 2", "0.200s")
	if v.Node != "n1" || v.Time != msT(210) {
		t.Fatalf("violation at %s %v, want n1 at the delivery, 210ms", v.Node, v.Time)
	}
}

func TestClocksInferKindAndTransitivePairs(t *testing.T) {
	// b's ts 3 equals r's, so the direct step r->b is the one reported.
	r := lamportRun("3")
	r.logs["n1"][1].TS = json.RawMessage("3")
	r.b.h[len(r.b.h)-3].Value.(ClockOp).Event.TS = json.RawMessage("3")
	hb, _, _ := r.check("", nil)
	wantViolation(t, hb, Invalid, `"r"`, `"b"`, "n1 logs")
	if n := hb.Details.(map[string]any)["violating_pairs"]; n != 1 {
		t.Fatalf("violating pairs = %v, want 1", n)
	}
}

func vectorRun(cTS string) *clockRun {
	return newClockRun("n0", "n1", "n2").
		local("n0", "a", `{"n0":1}`, 100).
		send("n0", "n1", "s", `{"n0":2}`, 200, false).
		recv("n1", "r", `{"n0":2,"n1":1}`, "s").
		local("n1", "b", `{"n0":2,"n1":2}`, 300).
		local("n2", "c", cTS, 150)
}

func TestClocksVectorExact(t *testing.T) {
	hb, _, _ := vectorRun(`{"n2":1}`).check(ClockVector, nil)
	wantViolation(t, hb, Valid)
	d := hb.Details.(map[string]any)
	if d["ordered_pairs"] != 6 || d["concurrent_pairs"] != 4 {
		t.Fatalf("pairs %v, want 6 ordered and 4 concurrent (c with each)", d)
	}
}

func TestClocksVectorInventedOrder(t *testing.T) {
	// c claims to follow n0's first event, but nothing connects them.
	hb, _, _ := vectorRun(`{"n0":1,"n2":1}`).check(ClockVector, nil)
	wantViolation(t, hb, Invalid, "invent a causal order", `"a"`, `"c"`, "concurrent", "before")
}

func TestClocksVectorMissedMerge(t *testing.T) {
	r := vectorRun(`{"n2":1}`)
	r.logs["n1"][0].TS = json.RawMessage(`{"n1":1}`)
	hb, _, _ := r.check(ClockVector, nil)
	wantViolation(t, hb, Invalid, "miss a causal order", `"s"`, `"r"`, "compare concurrent, not before")
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func hlcTS(ms int, logical int) string {
	b, _ := json.Marshal(map[string]int64{"wall": epoch.Add(msT(ms)).UnixNano(), "logical": int64(logical)})
	return string(b)
}

func TestClocksHLCBounds(t *testing.T) {
	run := func(aWall, aLogical int) (hb, bounds Result) {
		r := newClockRun("n0", "n1").
			local("n0", "a", hlcTS(aWall, aLogical), 100).
			send("n0", "n1", "s", hlcTS(max(aWall+1, 200), 0), 200, false).
			recv("n1", "r", hlcTS(max(aWall+1, 200), 1), "s")
		hb, _, all := r.check(ClockHLC, func(p *ClockParams) {
			p.Start, p.SkewBound, p.Tolerance = epoch, 300*time.Millisecond, 10*time.Millisecond
		})
		if len(all) != 3 || all[2].Checker != "hlc-bounds" {
			t.Fatalf("results %v, want hlc-bounds third", all)
		}
		return hb, all[2]
	}
	hb, bounds := run(100, 0)
	wantViolation(t, hb, Valid)
	wantViolation(t, bounds, Valid)

	// 500 ms ahead of true time, more than 300 ms of skew + 10 ms.
	hb, bounds = run(601, 0)
	wantViolation(t, hb, Valid)
	v := wantViolation(t, bounds, Invalid, "far from true time", `"a"`, "ahead of", "310ms")
	if v.Node != "n0" {
		t.Fatalf("violation on %s, want n0", v.Node)
	}

	// A counter of 3 on the first event: nothing before it to count.
	_, bounds = run(100, 3)
	wantViolation(t, bounds, Invalid, "logical counter too large", "logical 3", "only 0 event(s)")
}

func TestClocksLogAgreesWithClientsAndNetwork(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(r *clockRun)
		parts  []string
	}{
		{"missing acknowledged event", func(r *clockRun) { r.logs["n2"] = nil },
			[]string{"acknowledged event missing", `"c"`, "n2"}},
		{"rewritten timestamp", func(r *clockRun) { r.logs["n1"][1].TS = json.RawMessage("9") },
			[]string{"timestamp rewritten", "ts 4", "ts 9"}},
		{"receipt never delivered", func(r *clockRun) { r.msgs[0].Delivered = -1 },
			[]string{"never delivered", `"r"`, `n0's send "s"`}},
		{"receipt of an unknown send", func(r *clockRun) { r.logs["n1"][0].Cause = "zz" },
			[]string{"unknown send", `"zz"`}},
		{"lost receipt", func(r *clockRun) { r.logs["n1"] = r.logs["n1"][1:] },
			[]string{"delivered message missing from the log", `"s"`, "0.210s"}},
		{"send never sent", func(r *clockRun) { r.msgs = nil },
			[]string{"send never sent", `"s"`}},
		{"duplicate id", func(r *clockRun) {
			r.logs["n2"] = append(r.logs["n2"], ClockEvent{ID: "a", Kind: "local", TS: json.RawMessage("2")})
		},
			[]string{"duplicate event id", `"a"`}},
		{"malformed", func(r *clockRun) {
			r.logs["n2"] = append(r.logs["n2"], ClockEvent{ID: "d", Kind: "tick", TS: json.RawMessage("2")})
		},
			[]string{"malformed event", `"tick"`}},
		{"log order against real time", func(r *clockRun) {
			l := r.logs["n0"]
			r.logs["n0"] = []ClockEvent{l[1], l[0]}
		}, []string{"log order contradicts real time", `lists "s" (entry 0) before "a" (entry 1)`, `"s" was requested at 0.200s`, `"a" was acknowledged at 0.101s`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := lamportRun("3")
			tc.break_(r)
			_, log, _ := r.check(ClockLamport, nil)
			wantViolation(t, log, Invalid, tc.parts...)
		})
	}
}

// A node that puts its send event's id anywhere but a top-level "event"
// string has every receipt unmatched: one violation names the field and
// counts the receipts, instead of one "never delivered" per receipt.
func TestClocksMessagesWithoutEventFieldReportedOnce(t *testing.T) {
	r := newClockRun("n0", "n1")
	for i := range 30 {
		id := fmt.Sprintf("s%d", i)
		r.send("n0", "n1", id, strconv.Itoa(2*i+1), 100+10*i, false)
		r.recv("n1", "r"+id, strconv.Itoa(2*i+2), id)
	}
	var unlabelled []ClockMessage
	for _, m := range r.msgs {
		m.Event, m.Problem = "", `no top-level "event" field (its body has payload, type)`
		unlabelled = append(unlabelled, m)
	}
	_, log, _ := r.check(ClockLamport, func(p *ClockParams) { p.Messages, p.Unlabelled = nil, unlabelled })
	v := wantViolation(t, log, Invalid, "without its send event id", `no top-level "event" field`,
		"30 node-to-node message(s)", "30 receipt(s) and 30 send(s)", `n1's recv event "rs0" of send "s0"`)
	if len(log.Violations) != 1 {
		t.Errorf("%d violations, want the one that explains them all; second: %s", len(log.Violations), log.Violations[1].Detail)
	}
	if strings.Contains(log.Summary, "never delivered") || v.Node != "n0" {
		t.Errorf("summary %q, node %s", log.Summary, v.Node)
	}

	// Receipts between nodes whose messages were labelled still count
	// one by one.
	r = lamportRun("3")
	r.msgs[0].Delivered = -1
	_, log, _ = r.check(ClockLamport, func(p *ClockParams) {
		p.Unlabelled = []ClockMessage{{ID: 9, Src: "n2", Dest: "n0", Delivered: -1, Problem: "x"}}
	})
	wantViolation(t, log, Invalid, "never delivered", `"r"`)
}

func TestClocksCycleAndMissingLogAreUnknown(t *testing.T) {
	// n1 logs its receipt of s before its own send t, and n0 logs its
	// receipt of t before sending s: each receipt precedes its send.
	r := newClockRun("n0", "n1").
		send("n1", "n0", "t", "2", 100, false).
		send("n0", "n1", "s", "2", 100, false)
	r.logs["n0"] = []ClockEvent{{ID: "rt", Kind: "recv", TS: json.RawMessage("3"), Cause: "t"}, r.logs["n0"][0]}
	r.logs["n1"] = []ClockEvent{{ID: "rs", Kind: "recv", TS: json.RawMessage("3"), Cause: "s"}, r.logs["n1"][0]}
	hb, log, _ := r.check(ClockLamport, nil)
	wantViolation(t, log, Invalid, "causal cycle")
	if hb.Valid != Unknown {
		t.Fatalf("happens-before on cyclic logs: %s, want unknown", hb.Valid)
	}

	r = lamportRun("3")
	h := r.b
	at := r.end + 1000
	h.call(history.OK, 0, "n0", "log", nil, r.logs["n0"], at, at+1)
	h.call(history.Info, 1, "n1", "log", nil, nil, at, at+5000)
	for _, res := range Clocks(h.h, ClockParams{Nodes: r.nodes, Kind: ClockHLC, Messages: r.msgs}) {
		if res.Valid != Unknown {
			t.Fatalf("%s without every log: %s, want unknown (%s)", res.Checker, res.Valid, res.Summary)
		}
		if res.Checker == "clock-log" && (!strings.Contains(res.Summary, "n1: the log read ended info") || !strings.Contains(res.Summary, "n2: its log was never read")) {
			t.Fatalf("summary does not say which logs are missing and why: %s", res.Summary)
		}
	}
}
