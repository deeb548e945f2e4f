package gorilla

import (
	"math"
	"math/rand/v2"
	"testing"
)

func roundTrip(t *testing.T, in []Sample) *Chunk {
	t.Helper()
	var c Chunk
	for _, s := range in {
		if err := c.Append(s); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.Samples()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("decoded %d samples, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].T != in[i].T || math.Float64bits(out[i].V) != math.Float64bits(in[i].V) {
			t.Fatalf("sample %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	return &c
}

// counters are regular-interval counters as a scraper sees them: one
// sample every 10 s (with a few milliseconds of scrape jitter on one in
// ten), incremented by a Poisson-like number of events, many intervals
// idle. This is the kind of data the Gorilla paper's 1.37 bytes/sample
// comes from.
func counters(r *rand.Rand, series, n int) [][]Sample {
	out := make([][]Sample, series)
	for s := range out {
		t, v := int64(1_700_000_000_000), float64(r.IntN(1000))
		rate := []float64{0.1, 0.3, 0.6, 1}[s%4] // chance of events per interval
		for range n {
			out[s] = append(out[s], Sample{T: t, V: v})
			t += 10_000
			if r.IntN(10) == 0 {
				t += int64(r.IntN(5)) - 2
			}
			if r.Float64() < rate {
				v += float64(1 + r.IntN(3))
			}
		}
	}
	return out
}

// hard is a harder series: irregular timestamps and a noisy gauge.
func hard(r *rand.Rand, n int) []Sample {
	var out []Sample
	t := int64(0)
	for range n {
		t += 1 + int64(r.IntN(5000))
		out = append(out, Sample{T: t, V: 100 + 10*r.NormFloat64()})
	}
	return out
}

func bytesPerSample(t *testing.T, all [][]Sample) float64 {
	b, n := 0, 0
	for _, s := range all {
		c := roundTrip(t, s)
		b += c.Bytes()
		n += c.Len()
	}
	return float64(b) / float64(n)
}

func TestRoundTripEdgeCases(t *testing.T) {
	roundTrip(t, nil)
	roundTrip(t, []Sample{{T: -5, V: math.NaN()}})
	roundTrip(t, []Sample{{0, 0}, {0, 0}, {0, math.Copysign(0, -1)}, {1, math.Inf(1)}, {1 << 40, math.Inf(-1)}, {1<<40 + 1, math.SmallestNonzeroFloat64},
		{math.MaxInt64 / 2, math.MaxFloat64}, {math.MaxInt64 / 2, 1}, {math.MaxInt64/2 + 3000, 1.5}, {math.MaxInt64/2 + 3000 + 64, 2}})
	r := rand.New(rand.NewPCG(1, 2))
	roundTrip(t, hard(r, 5000))
	var rnd []Sample
	for i := range 2000 {
		rnd = append(rnd, Sample{T: int64(i) * int64(r.IntN(1<<20)+1) / 3, V: math.Float64frombits(r.Uint64())})
	}
	for i := 1; i < len(rnd); i++ {
		rnd[i].T = max(rnd[i].T, rnd[i-1].T)
	}
	roundTrip(t, rnd)
}

func TestOutOfOrderRefused(t *testing.T) {
	var c Chunk
	_ = c.Append(Sample{T: 10, V: 1})
	if err := c.Append(Sample{T: 9, V: 1}); err != ErrOutOfOrder {
		t.Fatalf("got %v", err)
	}
}

func TestTruncatedIsCorrupt(t *testing.T) {
	var c Chunk
	for _, s := range hard(rand.New(rand.NewPCG(3, 4)), 100) {
		_ = c.Append(s)
	}
	for cut := 0; cut < c.Bytes()-8; cut += 7 {
		if _, err := Decode(c.Data()[:cut], c.Len()); err != ErrCorrupt {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

// TestBytesPerSample measures compression: at most 1.5 bytes per sample
// on regular-interval counters (the paper reports 1.37 on its data); the
// hard series is reported, not bounded (it should stay below 16, the
// uncompressed size).
func TestBytesPerSample(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	reg := bytesPerSample(t, counters(r, 40, 720)) // two hours at 10 s
	hd := bytesPerSample(t, [][]Sample{hard(r, 720*40)})
	t.Logf("bytes per sample: regular-interval counters %.3f, irregular noisy gauge %.3f (raw: 16)", reg, hd)
	if reg > 1.5 {
		t.Errorf("regular-interval counters: %.3f bytes per sample, want <= 1.5", reg)
	}
	if hd >= 16 {
		t.Errorf("hard series: %.3f bytes per sample, no better than raw", hd)
	}
}

// BenchmarkAppend compresses the 40 regular-interval counters of
// TestBytesPerSample (28,800 samples) per iteration.
func BenchmarkAppend(b *testing.B) {
	all := counters(rand.New(rand.NewPCG(7, 7)), 40, 720)
	b.ReportAllocs()
	for b.Loop() {
		bytes, n := 0, 0
		for _, s := range all {
			var c Chunk
			for _, x := range s {
				_ = c.Append(x)
			}
			bytes, n = bytes+c.Bytes(), n+c.Len()
		}
		b.ReportMetric(float64(bytes)/float64(n), "bytes/sample")
		b.ReportMetric(float64(n), "samples/op")
	}
}

func BenchmarkDecode(b *testing.B) {
	var c Chunk
	for _, x := range counters(rand.New(rand.NewPCG(7, 7)), 1, 720)[0] {
		_ = c.Append(x)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Samples(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), uint64(0), int64(10), uint64(1), int64(10), uint64(1<<63))
	f.Fuzz(func(t *testing.T, t0 int64, v0 uint64, d1 int64, v1 uint64, d2 int64, v2 uint64) {
		if d1 < 0 || d2 < 0 || t0 > math.MaxInt64/4 || d1 > math.MaxInt64/4 || d2 > math.MaxInt64/4 {
			return
		}
		in := []Sample{{t0, math.Float64frombits(v0)}, {t0 + d1, math.Float64frombits(v1)}, {t0 + d1 + d2, math.Float64frombits(v2)}}
		roundTrip(t, in)
	})
}
