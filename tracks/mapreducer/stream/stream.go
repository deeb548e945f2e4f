// Package stream is the stream processor of the mapreducer track: word
// count over an unbounded input in tumbling or sliding windows on event
// time, with a watermark, allowed lateness, and results handed to a sink.
//
// The Processor is a pure state machine (no clock, no I/O): the caller
// feeds it events in input order, asks it after each batch which window
// results changed (Advance), and saves its state (Snapshot) as a
// checkpoint together with its input position. Exactly-once output comes
// from that checkpoint plus an idempotent sink: results are absolute
// counts keyed by window and word, so writing one twice changes nothing.
// A later capstone runs the same Processor on a replicated log.
package stream

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Config describes the windows. Size = Slide gives tumbling windows,
// Slide < Size sliding ones (each event counts in Size/Slide windows).
// The watermark is the largest event time seen minus Bound (input may be
// out of order by up to Bound); a window [start, end) first fires when
// the watermark reaches end, takes late events until the watermark
// reaches end + Lateness, and is closed then: later events for it are
// dropped. Times are milliseconds.
type Config struct {
	SizeMs     int64 `json:"window_ms"`
	SlideMs    int64 `json:"slide_ms"`
	BoundMs    int64 `json:"bound_ms"`
	LatenessMs int64 `json:"lateness_ms"`
}

// Validate refuses windows that cannot work.
func (c Config) Validate() error {
	if c.SizeMs <= 0 || c.SlideMs <= 0 || c.SlideMs > c.SizeMs || c.SizeMs%c.SlideMs != 0 || c.BoundMs < 0 || c.LatenessMs < 0 {
		return fmt.Errorf("stream: bad windows %+v: want 0 < slide <= size, size a multiple of slide, bound and lateness >= 0", c)
	}
	return nil
}

// Event is one input record.
type Event struct {
	Word string `json:"word"`
	Time int64  `json:"time"`
}

// Result is a window's count for one word: what the sink stores, keyed by
// (Start, End, Word).
type Result struct {
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Word  string `json:"word"`
	Count int64  `json:"count"`
}

// Sink receives results. Put must be idempotent: results carry absolute
// counts, so a repeated Put (after a crash between writing and
// checkpointing) leaves the sink as it was.
type Sink interface {
	Put(ctx context.Context, rs []Result) error
}

// window is one open window's state.
type window struct {
	Counts  map[string]int64 `json:"counts"`
	Emitted map[string]int64 `json:"emitted"` // what the sink has
	Fired   bool             `json:"fired"`
}

// NoWatermark is the watermark before any event.
const NoWatermark = math.MinInt64

// Processor is the windowed word count.
type Processor struct {
	cfg       Config
	watermark int64
	open      map[int64]*window // by start
	dropped   int64
}

// New returns an empty processor.
func New(c Config) (*Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Processor{cfg: c, watermark: NoWatermark, open: map[int64]*window{}}, nil
}

// Config returns the processor's windows.
func (p *Processor) Config() Config { return p.cfg }

// Watermark is the current watermark (NoWatermark before any event).
func (p *Processor) Watermark() int64 { return p.watermark }

// Dropped counts events that came after every window they belong to had
// closed.
func (p *Processor) Dropped() int64 { return p.dropped }

// Windows returns the starts of the windows holding time t.
func (c Config) Windows(t int64) []int64 {
	last := floorDiv(t, c.SlideMs) * c.SlideMs
	var out []int64
	for s := last; s > t-c.SizeMs; s -= c.SlideMs {
		out = append(out, s)
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// closed reports whether the window starting at s takes no more events.
func (p *Processor) closed(s int64) bool {
	return p.watermark != NoWatermark && s+p.cfg.SizeMs+p.cfg.LatenessMs <= p.watermark
}

// Add counts one event at time t (its event time; the processing-time
// counter-example passes its arrival time) in every window of t that is
// not closed, then advances the watermark.
func (p *Processor) Add(word string, t int64) {
	counted := false
	for _, s := range p.cfg.Windows(t) {
		if p.closed(s) {
			continue
		}
		w := p.open[s]
		if w == nil {
			w = &window{Counts: map[string]int64{}, Emitted: map[string]int64{}}
			p.open[s] = w
		}
		w.Counts[word]++
		counted = true
	}
	if !counted {
		p.dropped++
	}
	if wm := t - p.cfg.BoundMs; wm > p.watermark {
		p.watermark = wm
	}
}

// Advance returns the results to write after a batch: for every window
// the watermark has passed the end of, the counts that changed since the
// last write; windows past their lateness are then forgotten. Results
// come sorted by window, then word.
func (p *Processor) Advance() []Result { return p.advance(p.watermark) }

// Flush ends the input: every window fires and closes.
func (p *Processor) Flush() []Result {
	p.watermark = math.MaxInt64 - p.cfg.SizeMs - p.cfg.LatenessMs
	return p.advance(p.watermark)
}

func (p *Processor) advance(wm int64) []Result {
	var out []Result
	starts := make([]int64, 0, len(p.open))
	for s := range p.open {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	for _, s := range starts {
		w := p.open[s]
		end := s + p.cfg.SizeMs
		if wm == NoWatermark || end > wm {
			continue
		}
		words := make([]string, 0, len(w.Counts))
		for word := range w.Counts {
			words = append(words, word)
		}
		slices.Sort(words)
		for _, word := range words {
			if c := w.Counts[word]; w.Emitted[word] != c {
				out = append(out, Result{Start: s, End: end, Word: word, Count: c})
				w.Emitted[word] = c
			}
		}
		w.Fired = true
		if p.closed(s) {
			delete(p.open, s)
		}
	}
	return out
}

// snapshot is a processor's state as JSON.
type snapshot struct {
	Config    Config            `json:"config"`
	Watermark int64             `json:"watermark"`
	Open      map[int64]*window `json:"open"`
	Dropped   int64             `json:"dropped"`
}

// Snapshot encodes the processor's state for a checkpoint.
func (p *Processor) Snapshot() ([]byte, error) {
	return json.Marshal(snapshot{p.cfg, p.watermark, p.open, p.dropped})
}

// Restore decodes a Snapshot.
func Restore(b []byte) (*Processor, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("stream: restore: %w", err)
	}
	p, err := New(s.Config)
	if err != nil {
		return nil, err
	}
	p.watermark, p.dropped = s.Watermark, s.Dropped
	if s.Open != nil {
		p.open = s.Open
	}
	return p, nil
}

// SortResults orders results by window, then word.
func SortResults(rs []Result) {
	slices.SortFunc(rs, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.Word, b.Word))
	})
}
