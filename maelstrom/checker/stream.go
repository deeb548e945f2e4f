package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The stream workload's history values (see maelstrom/workload/stream.go
// for the bodies on the wire).

// StreamConfig is the windowing every node is told at setup: windows of
// SizeMs starting every SlideMs (tumbling when equal), input out of order
// by up to BoundMs, late events accepted for LatenessMs past a window's
// end (all in event-time milliseconds).
type StreamConfig struct {
	SizeMs     int64 `json:"window_ms"`
	SlideMs    int64 `json:"slide_ms"`
	BoundMs    int64 `json:"bound_ms"`
	LatenessMs int64 `json:"lateness_ms"`
}

// StreamEvent is one input event: a word at an event time (Unix ms).
type StreamEvent struct {
	Word string `json:"word"`
	Time int64  `json:"time"`
}

// StreamBatch is one delivery of batch Seq (the op "events"). Every
// delivery of a seq carries the same events; Redelivery marks a delivery
// after the batch had been acknowledged (as a source that lost the
// acknowledgement sends it again). End marks the end of the input.
// SentMs is when the delivery was sent, in ms of the workload's clock
// (the sink's FirstMs uses the same clock).
type StreamBatch struct {
	Seq        int64         `json:"seq"`
	Events     []StreamEvent `json:"events"`
	End        bool          `json:"end,omitempty"`
	Redelivery bool          `json:"redelivery,omitempty"`
	SentMs     int64         `json:"sent_ms"`
}

// StreamResult is the sink's count of Word in window [Start, End);
// FirstMs is when the sink first received any result of that window.
type StreamResult struct {
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
	Word    string `json:"word"`
	Count   int64  `json:"count"`
	FirstMs int64  `json:"first_ms"`
}

// StreamSink is the sink's content at the end of the run (the op "read").
type StreamSink struct {
	Results []StreamResult `json:"results"`
	Writes  int            `json:"writes"`
}

// StreamDetails are the figures of a stream run.
type StreamDetails struct {
	Batches      int     `json:"batches"`
	Events       int     `json:"events"`
	Redeliveries int     `json:"redeliveries"`
	LateCounted  int     `json:"late-counted"` // events behind the watermark, still within the lateness
	LateDropped  int     `json:"late-dropped"` // events past every window's lateness
	Windows      int     `json:"windows"`      // (window, word) results checked
	RecordsPerS  float64 `json:"records-per-s"`
	// Latency is, per window fired before the end of the input, from the
	// sending of the batch that moved the watermark past the window's end
	// to the sink's first result of that window.
	Latency Quantiles `json:"latency"`
}

// StreamKey names one result: a window and a word.
type StreamKey struct {
	start, end int64
	word       string
}

// Start is the window's start.
func (k StreamKey) Start() int64 { return k.start }

// End is the window's end.
func (k StreamKey) End() int64 { return k.end }

// Word is the word counted.
func (k StreamKey) Word() string { return k.word }

// StreamReference computes the window counts of batches taken in seq
// order, the rules of the lesson: for each event in order, it counts in
// every window holding its time whose end + lateness is above the
// watermark, then the watermark becomes max(watermark, time - bound);
// before the first event there is none. It returns the counts, the count
// of late events counted and dropped, and for each window end the index
// of the batch whose processing first put the watermark at or past it.
func StreamReference(c StreamConfig, batches [][]StreamEvent) (map[StreamKey]int64, int, int, map[int64]int) {
	counts := map[StreamKey]int64{}
	passed := map[int64]int{}
	wm, have := int64(math.MinInt64), false
	lateCounted, dropped := 0, 0
	ends := map[int64]bool{}
	for bi, evs := range batches {
		for _, e := range evs {
			first := e.Time - ((e.Time%c.SlideMs)+c.SlideMs)%c.SlideMs
			any, late := false, false
			for s := first; s > e.Time-c.SizeMs; s -= c.SlideMs {
				end := s + c.SizeMs
				if have && end+c.LatenessMs <= wm {
					continue
				}
				if have && end <= wm {
					late = true
				}
				counts[StreamKey{s, end, e.Word}]++
				if _, fired := passed[end]; !fired {
					ends[end] = true
				}
				any = true
			}
			if !any {
				dropped++
			} else if late {
				lateCounted++
			}
			if !have || e.Time-c.BoundMs > wm {
				wm, have = e.Time-c.BoundMs, true
			}
		}
		for end := range ends {
			if have && end <= wm {
				passed[end] = bi
				delete(ends, end)
			}
		}
	}
	return counts, lateCounted, dropped, passed
}

// Stream checks a stream history: every batch up to the end of the input
// was acknowledged, and the sink holds exactly the reference's counts,
// window by window and word by word. A count too high is what an
// at-least-once sink or processor shows under redelivery; wrong windows
// everywhere are what windows by arrival time show under out-of-order
// input. The first violation names the first wrong window.
func Stream(h history.History, c StreamConfig) (res Result) {
	res = Result{Checker: "stream", Valid: Valid}
	var d StreamDetails
	first := map[int64]StreamBatch{} // seq -> first delivery
	acked := map[int64]bool{}
	var endSeq int64
	var sink *StreamSink
	var sinkOp *history.Op
	var firstOK, lastOK time.Duration
	for _, p := range pairUp(h) {
		if p.invoke.Process < 0 {
			continue
		}
		switch p.invoke.F {
		case "events":
			b, ok := p.invoke.Value.(StreamBatch)
			if !ok {
				continue
			}
			if f, seen := first[b.Seq]; !seen || b.SentMs < f.SentMs {
				first[b.Seq] = b
			}
			if b.Redelivery {
				d.Redeliveries++
			}
			if b.End {
				endSeq = b.Seq
			}
			if p.outcome() == history.OK {
				if !acked[b.Seq] && !b.End {
					if firstOK == 0 {
						firstOK = p.completion.Time
					}
					lastOK = p.completion.Time
				}
				acked[b.Seq] = true
			}
		case "read":
			if p.outcome() == history.OK {
				if s, ok := p.completion.Value.(StreamSink); ok {
					// The violation shows the read without the whole sink.
					o := *p.completion
					o.Value = map[string]any{"results": len(s.Results), "writes": s.Writes}
					sink, sinkOp = &s, &o
				}
			}
		}
	}
	fail := func(v Violation) {
		res.Valid = Invalid
		if len(res.Violations) < maxViolations {
			res.Violations = append(res.Violations, v)
		}
	}
	defer func() {
		res.Details = d
		res.Summary = fmt.Sprintf("%d batches, %d events (%.0f records/s), %d redeliveries, %d late counted, %d late dropped; %d window results; latency behind the watermark p50 %s, max %s",
			d.Batches, d.Events, d.RecordsPerS, d.Redeliveries, d.LateCounted, d.LateDropped, d.Windows, d.Latency.P50.Round(time.Millisecond), d.Latency.Max.Round(time.Millisecond))
		if res.Valid == Invalid {
			res.Summary += "; " + res.Violations[0].What
		}
	}()
	if endSeq == 0 || sink == nil {
		fail(Violation{What: "stream not finished", Detail: "the end of the input was never sent or the sink never read: the run ended too early to judge the windows"})
		return res
	}
	var batches [][]StreamEvent
	var sent []int64
	for seq := int64(1); seq <= endSeq; seq++ {
		b, ok := first[seq]
		if !ok || !acked[seq] {
			fail(Violation{What: "unacknowledged batch", Value: seq, Time: sinkOp.Time,
				Detail: fmt.Sprintf("batch %d was never acknowledged (events_ok), not even after the faults stopped, so the input is incomplete", seq)})
			return res
		}
		batches = append(batches, b.Events)
		sent = append(sent, b.SentMs)
		d.Events += len(b.Events)
	}
	d.Batches = len(batches)
	if span := lastOK - firstOK; span > 0 {
		d.RecordsPerS = float64(d.Events) / span.Seconds()
	}
	want, lateCounted, dropped, passed := StreamReference(c, batches)
	d.LateCounted, d.LateDropped = lateCounted, dropped
	got := map[StreamKey]int64{}
	firstWrite := map[int64]int64{} // window start -> ms
	for _, r := range sink.Results {
		got[StreamKey{r.Start, r.End, r.Word}] = r.Count
		if f, ok := firstWrite[r.Start]; !ok || r.FirstMs < f {
			firstWrite[r.Start] = r.FirstMs
		}
	}
	keys := make([]StreamKey, 0, len(want)+len(got))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b StreamKey) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), cmp.Compare(a.word, b.word))
	})
	d.Windows = len(want)
	var lats []time.Duration
	seenWindow := map[int64]bool{}
	for _, k := range keys {
		w, g := want[k], got[k]
		if bi, ok := passed[k.end]; ok && !seenWindow[k.start] && bi < len(sent)-1 {
			if f, wrote := firstWrite[k.start]; wrote {
				seenWindow[k.start] = true
				lats = append(lats, time.Duration(f-sent[bi])*time.Millisecond)
			}
		}
		if w == g {
			continue
		}
		why := "counts too high: events counted more than once"
		switch {
		case g == 0:
			why = "the sink has no result for it"
		case w == 0:
			why = "the reference has no event of that word in that window"
		case g < w:
			why = "counts too low: events lost or dropped as late when they were not"
		}
		fail(Violation{What: "wrong window", Node: sinkOp.Node, Op: sinkOp, Value: map[string]any{"start": k.start, "end": k.end, "word": k.word, "sink": g, "reference": w}, Time: sinkOp.Time,
			Detail: fmt.Sprintf("window [%d, %d) word %q: the sink (read at the end, the input having come through the node %s) has %d, the reference %d (%s)",
				k.start, k.end, k.word, where(sinkOp.Node, sinkOp.Process), g, w, why)})
	}
	d.Latency = quantilesOf(lats)
	return res
}
