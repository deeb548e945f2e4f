package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// queue (ours, the queues track): SQS-style message queues. Every worker
// is both a producer and a consumer:
//
//	{"type":"send","queue":Q,"msg":M,"dedup":D[,"group":G]}
//	    -> {"type":"send_ok","id":ID}
//	{"type":"receive","queue":Q,"max":N,"visibility_ms":V}
//	    -> {"type":"receive_ok","msgs":[{"id":ID,"msg":M,"receipt":R[,"group":G]},...]}
//	{"type":"ack","queue":Q,"receipts":[R,...]}
//	    -> {"type":"ack_ok"}
//	{"type":"extend","queue":Q,"receipts":[R,...],"visibility_ms":V}
//	    -> {"type":"extend_ok","extended":[R,...]}
//
// Queues q0 and q1 are standard queues; f0.fifo is a FIFO queue whose
// sends name a message group G. M is an integer unique to the logical
// message; D is its de-duplication id ("d" and M), the same on every
// re-send. ID is the queue's id for the stored message, R a receipt for
// one delivery (it acknowledges or extends that delivery only). A receive
// returns at most N messages, each hidden from other consumers for V ms
// unless acknowledged or extended; a FIFO queue returns a group's messages
// in order, one at a time, the next only once the previous one is
// acknowledged. extend_ok lists the receipts whose messages it extended.
//
// The consumer: after a receive that returned messages, the worker either
// processes the batch (applies each message's effect, then acks it), or
// is slow and extends the batch's visibility first (the extend op includes
// 1.5 s of slow work after the RPC; about every queueSlowEvery), or
// crashes in the middle of the batch without acknowledging anything (the
// crash op, about every queueCrashEvery), to come back as a fresh client.
// Effects: with --delivery exactly-once the consumer applies effects
// through an idempotent sink keyed by message id, as a consumer writing
// into a table with the id as primary key would; otherwise every
// processed delivery takes effect. The producer: one send in
// queueRetryOdds re-sends an earlier message with the same id and
// de-duplication id, as a producer that crashed before recording the
// acknowledgement does.
//
// --delivery tells the checker what to demand (checker.Queue): at-most-once
// (no duplicate delivery; losses counted), at-least-once (no acknowledged
// message without an effect; duplicates counted) or exactly-once (every
// effect exactly once). The final phase (after the quiet period) drains
// every queue. History values: checker.QueueSend, QueueReceive, QueueAck,
// QueueExtend, QueueCrash.
func queueSpec() Spec {
	return Spec{Name: "queue", Description: "SQS-style queues: visibility timeouts, FIFO groups, de-duplication, consumer crashes",
		Final:   true,
		Timeout: func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		Flags: []Flag{{Name: "delivery", Default: checker.AtLeastOnce,
			Usage: "the guarantee the checker demands: at-most-once, at-least-once or exactly-once"}},
		New: func(p Params) (Instance, error) {
			d := p.Flags["delivery"]
			switch d {
			case checker.AtMostOnce, checker.AtLeastOnce, checker.ExactlyOnce:
			default:
				return nil, fmt.Errorf("--delivery %q: want at-most-once, at-least-once or exactly-once", d)
			}
			return &queueW{p: p, delivery: d, now: time.Now, threads: map[int]*queueThread{},
				sink: map[string]bool{}, effected: map[int64]bool{}, acked: map[int64]bool{}}, nil
		}}
}

func init() { Register(queueSpec) }

var queueNames = []string{"q0", "q1", "f0.fifo"}

const (
	queueGroups     = 16
	queueMax        = 10
	queueVisibility = time.Second
	queueExtendTo   = 3 * time.Second
	queueSlowWork   = 1500 * time.Millisecond
	queueCrashEvery = time.Second
	queueSlowEvery  = 3 * time.Second
	queueRetryOdds  = 10
	queueRecent     = 64
	// The final phase: receive every queue round-robin, pausing
	// queueFinalGap after an empty receive, until two whole rounds came
	// back empty and either every acknowledged message took effect or
	// queueFinalSettle passed; never longer than queueFinalLimit.
	queueFinalGap    = 100 * time.Millisecond
	queueFinalSettle = 3 * time.Second
	queueFinalLimit  = 20 * time.Second
)

type queueW struct {
	noSetup
	p        Params
	delivery string
	now      func() time.Time

	// Generator state, touched only by Next.
	nextMsg   int64
	recent    []checker.QueueSend
	nextCrash time.Time
	nextSlow  time.Time

	mu       sync.Mutex
	threads  map[int]*queueThread
	sink     map[string]bool // message ids whose effect the idempotent sink applied
	effected map[int64]bool
	acked    map[int64]bool
	waiting  int // acknowledged messages without an effect
}

// queueThread is one worker's consumer state.
type queueThread struct {
	batch      *checker.QueueReceive // received, not yet processed
	extended   bool
	crashAfter int // effects a planned crash applies first
	// Final phase.
	finalStart time.Time
	next       int // queue to receive from next
	empty      int // consecutive empty receives
}

func (w *queueW) thread(t int) *queueThread {
	st := w.threads[t]
	if st == nil {
		st = &queueThread{}
		w.threads[t] = st
	}
	return st
}

// ResetClient: a replaced consumer forgets what it held.
func (w *queueW) ResetClient(thread int) {
	w.mu.Lock()
	st := w.thread(thread)
	st.batch, st.extended = nil, false
	w.mu.Unlock()
}

func (w *queueW) Next(thread, _ int) Invocation {
	r := w.p.Rand
	w.mu.Lock()
	st := w.thread(thread)
	batch := st.batch
	if batch != nil {
		defer w.mu.Unlock()
		now := w.now()
		if w.nextCrash.IsZero() {
			w.nextCrash = now.Add(gap(r, queueCrashEvery))
			w.nextSlow = now.Add(gap(r, queueSlowEvery))
		}
		switch {
		case !now.Before(w.nextCrash):
			w.nextCrash = now.Add(gap(r, queueCrashEvery))
			st.crashAfter = r.IntN(len(batch.Msgs) + 1)
			return Invocation{F: "crash", Value: checker.QueueCrash{Queue: batch.Queue, Msgs: batch.Msgs}}
		case !st.extended && !now.Before(w.nextSlow):
			w.nextSlow = now.Add(gap(r, queueSlowEvery))
			return Invocation{F: "extend", Value: extendOf(batch)}
		}
		return Invocation{F: "ack", Value: checker.QueueAck{Queue: batch.Queue, Msgs: batch.Msgs}}
	}
	w.mu.Unlock()
	if r.IntN(2) == 0 {
		return Invocation{F: "receive", Value: checker.QueueReceive{Queue: queueNames[r.IntN(len(queueNames))],
			Max: queueMax, VisibilityMs: queueVisibility.Milliseconds()}}
	}
	if len(w.recent) > 0 && r.IntN(queueRetryOdds) == 0 {
		s := w.recent[r.IntN(len(w.recent))]
		s.Retry = true
		return Invocation{F: "send", Value: s}
	}
	w.nextMsg++
	s := checker.QueueSend{Queue: queueNames[r.IntN(len(queueNames))], Msg: w.nextMsg, Dedup: "d" + strconv.FormatInt(w.nextMsg, 10)}
	if isFIFO(s.Queue) {
		s.Group = "g" + strconv.Itoa(r.IntN(queueGroups))
	}
	w.recent = append(w.recent, s)
	if len(w.recent) > queueRecent {
		w.recent = w.recent[1:]
	}
	return Invocation{F: "send", Value: s}
}

// gap draws the time to the next event of a kind that happens every mean
// on average: uniform over 0..2 mean.
func gap(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.Float64() * float64(2*mean))
}

func isFIFO(q string) bool { return len(q) > 5 && q[len(q)-5:] == ".fifo" }

func extendOf(b *checker.QueueReceive) checker.QueueExtend {
	e := checker.QueueExtend{Queue: b.Queue, VisibilityMs: queueExtendTo.Milliseconds()}
	for _, m := range b.Msgs {
		e.Receipts = append(e.Receipts, m.Receipt)
	}
	return e
}

// Final is the fixed final phase for runners that do not ask FinalNext.
func (w *queueW) Final(int) []Invocation {
	var out []Invocation
	for range 3 {
		for _, q := range queueNames {
			out = append(out, Invocation{F: "receive", Value: checker.QueueReceive{Queue: q, Max: queueMax, VisibilityMs: queueVisibility.Milliseconds()}})
		}
	}
	return out
}

// FinalNext drains the queues: a held batch is acknowledged, then the
// worker receives from each queue in turn until the stop rule of
// queueFinalGap holds.
func (w *queueW) FinalNext(thread int) (Invocation, bool) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.thread(thread)
	if st.finalStart.IsZero() {
		st.finalStart = now
	}
	if st.batch != nil {
		return Invocation{F: "ack", Value: checker.QueueAck{Queue: st.batch.Queue, Msgs: st.batch.Msgs}}, true
	}
	elapsed := now.Sub(st.finalStart)
	if elapsed >= queueFinalLimit {
		return Invocation{}, false
	}
	if st.empty >= 2*len(queueNames) && (w.waiting == 0 || elapsed >= queueFinalSettle) {
		return Invocation{}, false
	}
	q := queueNames[st.next%len(queueNames)]
	st.next++
	return Invocation{F: "receive", Value: checker.QueueReceive{Queue: q, Max: queueMax, VisibilityMs: queueVisibility.Milliseconds()}}, true
}

func (w *queueW) Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion {
	switch v := inv.Value.(type) {
	case checker.QueueSend:
		return w.send(ctx, c, v)
	case checker.QueueReceive:
		return w.receive(ctx, c, thread, v)
	case checker.QueueAck:
		return w.ack(ctx, c, thread, v)
	case checker.QueueExtend:
		return w.extend(ctx, c, thread, v)
	case checker.QueueCrash:
		w.mu.Lock()
		st := w.thread(thread)
		v.Applied = w.applyLocked(v.Msgs, st.crashAfter)
		st.batch, st.extended = nil, false
		w.mu.Unlock()
		return Completion{Type: history.Info, Value: v,
			Error: &history.Error{Code: -1, Name: "crash", Text: fmt.Sprintf("the consumer crashed on purpose in the middle of its batch, after %d of %d effects, acknowledging nothing", countTrue(v.Applied), len(v.Msgs))}}
	}
	return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown queue operation " + inv.F}}
}

// applyLocked applies the effects of the first n messages: through the
// idempotent sink under exactly-once, unconditionally otherwise.
func (w *queueW) applyLocked(msgs []checker.QueueDelivery, n int) []bool {
	out := make([]bool, len(msgs))
	for i, m := range msgs[:n] {
		if w.delivery == checker.ExactlyOnce {
			if w.sink[m.ID] {
				continue
			}
			w.sink[m.ID] = true
		}
		out[i] = true
		if !w.effected[m.Msg] {
			w.effected[m.Msg] = true
			if w.acked[m.Msg] {
				w.waiting--
			}
		}
	}
	return out
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func (w *queueW) send(ctx context.Context, c Caller, s checker.QueueSend) Completion {
	body := map[string]any{"type": "send", "queue": s.Queue, "msg": s.Msg, "dedup": s.Dedup}
	if s.Group != "" {
		body["group"] = s.Group
	}
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "send_ok", Field{Name: "id"})
	if err != nil {
		return Outcome(err, true, false)
	}
	if err := json.Unmarshal(m["id"], &s.ID); err != nil || s.ID == "" {
		return Outcome(&MalformedError{Reason: "id must be a non-empty string, got " + string(m["id"])}, true, false)
	}
	w.mu.Lock()
	if !w.acked[s.Msg] {
		w.acked[s.Msg] = true
		if !w.effected[s.Msg] {
			w.waiting++
		}
	}
	w.mu.Unlock()
	return ok(s)
}

type wireDelivery struct {
	ID      *string `json:"id"`
	Msg     *int64  `json:"msg"`
	Group   string  `json:"group"`
	Receipt *string `json:"receipt"`
}

func (w *queueW) receive(ctx context.Context, c Caller, thread int, r checker.QueueReceive) Completion {
	final := false
	w.mu.Lock()
	st := w.thread(thread)
	if !st.finalStart.IsZero() {
		final = true
		if st.empty > 0 { // pace the drain: nothing came back last time
			w.mu.Unlock()
			if !sleepFor(ctx, queueFinalGap) {
				return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: "run ended"}}
			}
			w.mu.Lock()
		}
	}
	w.mu.Unlock()
	raw, err := c.RPC(ctx, map[string]any{"type": "receive", "queue": r.Queue, "max": r.Max, "visibility_ms": r.VisibilityMs})
	if err == nil {
		r.Msgs, err = decodeDeliveries(raw, r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		st.empty = 0
		return Outcome(err, true, false)
	}
	if final {
		if len(r.Msgs) == 0 {
			st.empty++
		} else {
			st.empty = 0
		}
	}
	if len(r.Msgs) > 0 {
		b := r
		st.batch, st.extended = &b, false
	}
	return ok(r)
}

func decodeDeliveries(raw json.RawMessage, r checker.QueueReceive) ([]checker.QueueDelivery, error) {
	m, err := Decode(raw, "receive_ok", Field{Name: "msgs"})
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(m["msgs"]))
	dec.DisallowUnknownFields()
	var wire []wireDelivery
	if err := dec.Decode(&wire); err != nil {
		return nil, &MalformedError{Reason: "msgs must be a list of {id, msg, receipt[, group]} objects: " + err.Error()}
	}
	if len(wire) > r.Max {
		return nil, &MalformedError{Reason: fmt.Sprintf("receive_ok carries %d messages; the receive asked for at most %d", len(wire), r.Max)}
	}
	out := make([]checker.QueueDelivery, 0, len(wire))
	for i, d := range wire {
		if d.ID == nil || d.Msg == nil || d.Receipt == nil {
			return nil, &MalformedError{Reason: fmt.Sprintf("msgs[%d] lacks id, msg or receipt", i)}
		}
		out = append(out, checker.QueueDelivery{ID: *d.ID, Msg: *d.Msg, Group: d.Group, Receipt: *d.Receipt})
	}
	return out, nil
}

func (w *queueW) ack(ctx context.Context, c Caller, thread int, a checker.QueueAck) Completion {
	w.mu.Lock()
	a.Applied = w.applyLocked(a.Msgs, len(a.Msgs))
	st := w.thread(thread)
	st.batch, st.extended = nil, false
	w.mu.Unlock()
	receipts := make([]string, len(a.Msgs))
	for i, m := range a.Msgs {
		receipts[i] = m.Receipt
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "ack", "queue": a.Queue, "receipts": receipts})
	if err == nil {
		_, err = Decode(raw, "ack_ok")
	}
	if err != nil {
		comp := Outcome(err, true, true)
		comp.Value = a
		return comp
	}
	return ok(a)
}

func (w *queueW) extend(ctx context.Context, c Caller, thread int, e checker.QueueExtend) Completion {
	w.mu.Lock()
	w.thread(thread).extended = true
	w.mu.Unlock()
	raw, err := c.RPC(ctx, map[string]any{"type": "extend", "queue": e.Queue, "receipts": e.Receipts, "visibility_ms": e.VisibilityMs})
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, "extend_ok", Field{Name: "extended"})
	}
	if err == nil {
		if uerr := json.Unmarshal(m["extended"], &e.Extended); uerr != nil {
			err = &MalformedError{Reason: "extended must be a list of receipts, got " + truncate(string(m["extended"]), 80)}
		}
	}
	// The slow work the extension made room for.
	sleepFor(ctx, queueSlowWork)
	if err != nil {
		return Outcome(err, true, true)
	}
	if e.Extended == nil {
		e.Extended = []string{}
	}
	return ok(e)
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *queueW) Check(h history.History) checker.Result { return checker.Queue(h, w.delivery) }
