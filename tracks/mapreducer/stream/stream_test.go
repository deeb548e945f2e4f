package stream

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestWindowsHoldingATime(t *testing.T) {
	c := Config{SizeMs: 2000, SlideMs: 500}
	if got := c.Windows(1200); !slices.Equal(got, []int64{1000, 500, 0, -500}) {
		t.Fatalf("sliding: %v", got)
	}
	c = Config{SizeMs: 1000, SlideMs: 1000}
	if got := c.Windows(-1); !slices.Equal(got, []int64{-1000}) {
		t.Fatalf("tumbling before zero: %v", got)
	}
	if got := c.Windows(1000); !slices.Equal(got, []int64{1000}) {
		t.Fatalf("tumbling at a boundary: %v", got)
	}
}

func TestWatermarkFiresLatenessUpdatesThenCloses(t *testing.T) {
	p, err := New(Config{SizeMs: 1000, SlideMs: 1000, BoundMs: 200, LatenessMs: 500})
	if err != nil {
		t.Fatal(err)
	}
	p.Add("a", 100)
	p.Add("a", 900)
	if rs := p.Advance(); len(rs) != 0 {
		t.Fatalf("fired before the watermark passed the end: %v", rs)
	}
	p.Add("b", 1250) // watermark 1050: [0, 1000) fires
	if rs := p.Advance(); !slices.Equal(rs, []Result{{0, 1000, "a", 2}}) {
		t.Fatalf("first firing: %v", rs)
	}
	p.Add("a", 999) // late, within the lateness: the result is updated
	if rs := p.Advance(); !slices.Equal(rs, []Result{{0, 1000, "a", 3}}) {
		t.Fatalf("late update: %v", rs)
	}
	p.Add("c", 1800) // watermark 1600 >= 1000 + 500: [0, 1000) closes
	p.Advance()
	p.Add("a", 10) // too late: dropped
	if p.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", p.Dropped())
	}
	if rs := p.Flush(); !slices.Equal(rs, []Result{{1000, 2000, "b", 1}, {1000, 2000, "c", 1}}) {
		t.Fatalf("flush: %v", rs)
	}
}

// A processor restored from a snapshot goes on exactly as the original.
func TestSnapshotRestoreIsTransparent(t *testing.T) {
	cfg := Config{SizeMs: 2000, SlideMs: 500, BoundMs: 800, LatenessMs: 1000}
	r := rand.New(rand.NewPCG(1, 2))
	a, _ := New(cfg)
	var outA, outB []Result
	var b *Processor
	now := int64(0)
	for batch := range 200 {
		for range 10 {
			now += 10
			t := now - r.Int64N(900)
			if r.IntN(20) == 0 {
				t -= 3000
			}
			w := []string{"x", "y", "z"}[r.IntN(3)]
			a.Add(w, t)
			if b != nil {
				b.Add(w, t)
			}
		}
		outA = append(outA, a.Advance()...)
		if b != nil {
			outB = append(outB, b.Advance()...)
		}
		if batch == 50 {
			snap, err := a.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if b, err = Restore(snap); err != nil {
				t.Fatal(err)
			}
			outB = slices.Clone(outA)
		}
	}
	outA, outB = append(outA, a.Flush()...), append(outB, b.Flush()...)
	if !slices.Equal(outA, outB) {
		t.Fatalf("restored processor diverged: %d vs %d results", len(outA), len(outB))
	}
	if a.Dropped() == 0 {
		t.Fatal("no late event dropped: the test does not exercise lateness")
	}
}

func TestBadConfigsRefused(t *testing.T) {
	for _, c := range []Config{{}, {SizeMs: 1000, SlideMs: 300}, {SizeMs: 500, SlideMs: 1000}, {SizeMs: 1000, SlideMs: 1000, BoundMs: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// BenchmarkProcessor is the stream processor's own speed: records/s of
// windowed word count (2 s windows sliding by 500 ms, so each event counts
// in four windows), with an Advance after every batch of 100 events, as the
// node does. `go test -run '^$' -bench Processor ./tracks/mapreducer/stream/`
func BenchmarkProcessor(b *testing.B) {
	p, _ := New(Config{SizeMs: 2000, SlideMs: 500, BoundMs: 800, LatenessMs: 1000})
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
	now := int64(0)
	n := 0
	for b.Loop() {
		now++
		p.Add(words[r.IntN(len(words))], now-r.Int64N(800))
		if n++; n%100 == 0 {
			p.Advance()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
