package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// stream (ours, the mapreducer track): windowed word count over an
// unbounded input, with results written to a sink the grader runs.
//
//	setup:  {"type":"stream_config","window_ms":S,"slide_ms":P,"bound_ms":B,"lateness_ms":L}
//	            -> {"type":"stream_config_ok"}
//	        {"type":"events","seq":N,"events":[{"word":W,"time":T},...][,"end":true]}
//	            -> {"type":"events_ok"}
//	node -> sink:
//	        {"type":"sink_put","results":[{"start":S,"end":E,"word":W,"count":C},...]}
//	            -> {"type":"sink_put_ok"}
//
// One producer (--concurrency 1) sends batches numbered 1, 2, ... in
// order; a batch is sent again until acknowledged, and about one op in
// streamRedeliverEvery re-sends a batch that was acknowledged already
// (a redelivery). T is the event's time in Unix milliseconds: the time of
// sending minus up to B (out of order within the bound), or, for about
// one event in streamLateEvery, further back (late). The last batch,
// sent in the final phase, has "end":true and no events: the input ends.
//
// Windows [start, end) are SizeMs long and start every SlideMs (tumbling
// when equal). The node keeps a watermark, the largest event time seen
// minus B; events are processed in seq order, each counted in every
// window holding its time whose end + L is above the watermark (else it
// is dropped), and then the watermark advances. The sink stores, per
// (start, end, word), the last count put; after the end of the input it
// must hold exactly the grader's counts (checker.StreamReference), so
// each redelivered or replayed event must count once. History values:
// "events" checker.StreamBatch, "read" (the final read of the sink, done
// by the grader itself) checker.StreamSink.
func streamSpec() Spec {
	return Spec{Name: "stream", Description: "windowed word count on event time, with late and redelivered events, into an exactly-once sink",
		Final:   true,
		Timeout: func(lat time.Duration) time.Duration { return max(10*lat, time.Second) },
		Flags: []Flag{
			{Name: "window-ms", Default: "1000", Usage: "window length in event-time milliseconds"},
			{Name: "slide-ms", Default: "1000", Usage: "milliseconds between window starts (less than window-ms: sliding windows)"},
			{Name: "bound-ms", Default: "800", Usage: "how far out of order events may come; the watermark trails the largest event time by this"},
			{Name: "lateness-ms", Default: "1000", Usage: "how long past its end a window still counts late events"},
			{Name: "batch", Default: "20", Usage: "events per batch"},
		},
		New: func(p Params) (Instance, error) {
			if p.Concurrency != 1 {
				return nil, fmt.Errorf("the stream workload has one producer: give --concurrency 1, not %d", p.Concurrency)
			}
			var c checker.StreamConfig
			var err error
			num := func(name string, lo float64) int64 {
				if err != nil {
					return 0
				}
				var v float64
				v, err = p.FlagNumber(name, lo, 3600e3)
				return int64(v)
			}
			c.SizeMs, c.SlideMs, c.BoundMs, c.LatenessMs = num("window-ms", 1), num("slide-ms", 1), num("bound-ms", 0), num("lateness-ms", 0)
			batch := num("batch", 1)
			if err != nil {
				return nil, err
			}
			if c.SlideMs > c.SizeMs || c.SizeMs%c.SlideMs != 0 {
				return nil, fmt.Errorf("--slide-ms %d must divide --window-ms %d", c.SlideMs, c.SizeMs)
			}
			return &streamW{p: p, cfg: c, batch: int(batch), now: time.Now, start: time.Now(),
				sink: map[streamSinkKey]*checker.StreamResult{}, firstWrite: map[int64]int64{}}, nil
		}}
}

func init() { Register(streamSpec) }

const (
	streamRedeliverEvery = 8
	streamLateEvery      = 25
	streamFinalTries     = 50
)

var streamWords = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}

type streamSinkKey struct {
	start, end int64
	word       string
}

type streamW struct {
	p     Params
	cfg   checker.StreamConfig
	batch int
	now   func() time.Time
	start time.Time

	// Generator state (Next, FinalNext and Invoke run on the one worker).
	seq     int64
	pending *checker.StreamBatch // sent, not acknowledged
	acked   []checker.StreamBatch
	ended   bool
	read    bool
	tries   int

	mu         sync.Mutex
	sink       map[streamSinkKey]*checker.StreamResult
	firstWrite map[int64]int64 // window start -> ms
	writes     int
}

func (w *streamW) ms() int64 { return w.now().Sub(w.start).Milliseconds() }

func (w *streamW) Setup(ctx context.Context, _ string, c Caller) error {
	body := map[string]any{"type": "stream_config", "window_ms": w.cfg.SizeMs, "slide_ms": w.cfg.SlideMs,
		"bound_ms": w.cfg.BoundMs, "lateness_ms": w.cfg.LatenessMs}
	var err error
	for range 10 {
		var raw json.RawMessage
		if raw, err = c.RPC(ctx, body); err == nil {
			if _, err = Decode(raw, "stream_config_ok"); err == nil {
				return nil
			}
		}
		if !sleepFor(ctx, 100*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("%s: stream_config: %w", c.Node(), err)
}

func (w *streamW) Next(int, int) Invocation {
	if w.pending != nil {
		b := *w.pending
		b.SentMs = w.ms()
		return Invocation{F: "events", Value: b}
	}
	r := w.p.Rand
	if len(w.acked) > 0 && r.IntN(streamRedeliverEvery) == 0 {
		b := w.acked[max(0, len(w.acked)-1-r.IntN(8))]
		b.Redelivery, b.SentMs = true, w.ms()
		return Invocation{F: "events", Value: b}
	}
	w.seq++
	now := w.now().UnixMilli()
	b := checker.StreamBatch{Seq: w.seq, Events: make([]checker.StreamEvent, w.batch)}
	for i := range b.Events {
		t := now - r.Int64N(w.cfg.BoundMs+1)
		if r.IntN(streamLateEvery) == 0 {
			t = now - w.cfg.BoundMs - r.Int64N(2*w.cfg.LatenessMs+w.cfg.SizeMs+1)
		}
		b.Events[i] = checker.StreamEvent{Word: streamWords[r.IntN(len(streamWords))], Time: t}
	}
	b.SentMs = w.ms()
	w.pending = &b
	return Invocation{F: "events", Value: b}
}

func (w *streamW) Final(int) []Invocation { return nil }

// FinalNext delivers the batch left unacknowledged, then the end of the
// input, then reads the sink.
func (w *streamW) FinalNext(int) (Invocation, bool) {
	switch {
	case w.read || w.tries >= streamFinalTries:
		return Invocation{}, false
	case w.pending != nil:
		w.tries++
		b := *w.pending
		b.SentMs = w.ms()
		return Invocation{F: "events", Value: b}, true
	case !w.ended:
		w.seq++
		w.pending = &checker.StreamBatch{Seq: w.seq, Events: []checker.StreamEvent{}, End: true}
		w.ended = true
		w.tries++
		b := *w.pending
		b.SentMs = w.ms()
		return Invocation{F: "events", Value: b}, true
	}
	return Invocation{F: "read"}, true
}

func (w *streamW) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	if inv.F == "read" {
		w.read = true
		w.mu.Lock()
		defer w.mu.Unlock()
		s := checker.StreamSink{Results: []checker.StreamResult{}, Writes: w.writes}
		for _, r := range w.sink {
			rr := *r
			rr.FirstMs = w.firstWrite[r.Start]
			s.Results = append(s.Results, rr)
		}
		return ok(s)
	}
	b := inv.Value.(checker.StreamBatch)
	body := map[string]any{"type": "events", "seq": b.Seq, "events": b.Events}
	if b.End {
		body["end"] = true
	}
	raw, err := c.RPC(ctx, body)
	if err == nil {
		_, err = Decode(raw, "events_ok")
	}
	if err != nil {
		if !sleepFor(ctx, 50*time.Millisecond) {
			return Completion{Type: history.Info, Value: b, Error: &history.Error{Code: -1, Name: "client-error", Text: "run ended"}}
		}
		comp := Outcome(err, true, false)
		comp.Value = b
		return comp
	}
	if w.pending != nil && w.pending.Seq == b.Seq {
		w.pending = nil
		b2 := b
		b2.Redelivery = false
		w.acked = append(w.acked, b2)
		if len(w.acked) > 64 {
			w.acked = w.acked[1:]
		}
	}
	return ok(b)
}

func (w *streamW) Services() []string { return []string{"sink"} }

type wireResult struct {
	Start *int64  `json:"start"`
	End   *int64  `json:"end"`
	Word  *string `json:"word"`
	Count *int64  `json:"count"`
}

// HandleService is the sink: an upsert of absolute counts per (window,
// word), so a repeated put is harmless.
func (w *streamW) HandleService(_, src string, body json.RawMessage, send func(dest string, body json.RawMessage)) {
	var req struct {
		Type    string       `json:"type"`
		MsgID   *int64       `json:"msg_id"`
		Results []wireResult `json:"results"`
	}
	reply := func(b map[string]any) {
		if req.MsgID == nil {
			return
		}
		b["in_reply_to"] = *req.MsgID
		raw, _ := json.Marshal(b)
		send(src, raw)
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "sink_put" {
		reply(map[string]any{"type": "error", "code": 12, "text": "the sink takes {\"type\":\"sink_put\",\"results\":[{\"start\",\"end\",\"word\",\"count\"},...]}"})
		return
	}
	for i, r := range req.Results {
		if r.Start == nil || r.End == nil || r.Word == nil || r.Count == nil {
			reply(map[string]any{"type": "error", "code": 12, "text": "results[" + strconv.Itoa(i) + "] lacks start, end, word or count"})
			return
		}
	}
	now := w.ms()
	w.mu.Lock()
	w.writes++
	for _, r := range req.Results {
		k := streamSinkKey{*r.Start, *r.End, *r.Word}
		w.sink[k] = &checker.StreamResult{Start: k.start, End: k.end, Word: k.word, Count: *r.Count}
		if _, ok := w.firstWrite[k.start]; !ok {
			w.firstWrite[k.start] = now
		}
	}
	w.mu.Unlock()
	reply(map[string]any{"type": "sink_put_ok"})
}

func (w *streamW) Check(h history.History) checker.Result { return checker.Stream(h, w.cfg) }
