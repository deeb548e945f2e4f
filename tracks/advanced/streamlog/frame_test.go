package streamlog

import (
	"reflect"
	"testing"

	"github.com/distsys-curriculum/distsys/tracks/mapreducer/stream"
)

func batch(seq int64, words ...string) Batch {
	b := Batch{Seq: seq, Events: []stream.Event{}}
	for i, w := range words {
		b.Events = append(b.Events, stream.Event{Word: w, Time: 1_700_000_000_000 + int64(i)})
	}
	return b
}

func encode(t *testing.T, b Batch) []int64 {
	t.Helper()
	m, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFramesRoundTrip(t *testing.T) {
	b1, b2 := batch(1, "alpha", "beta", "épsilon"), Batch{Seq: 2, Events: []stream.Event{}, End: true}
	m1, m2 := encode(t, b1), encode(t, b2)
	for _, m := range m1[1:] {
		if m < 0 {
			t.Fatalf("a payload chunk is negative: %d", m)
		}
	}
	d := Decode(append(append([]int64{}, m1...), m2...))
	if !reflect.DeepEqual(d.Batches, []Batch{b1, b2}) || d.Used != len(m1)+len(m2) || d.Torn != 0 {
		t.Fatalf("decoded %+v", d)
	}
}

// A frame cut by the end of what is readable is left for later; one cut
// by the next header (a leader died mid-frame, the retry follows) is
// skipped.
func TestTornAndPartialFrames(t *testing.T) {
	m1, m2 := encode(t, batch(7, "alpha", "beta")), encode(t, batch(7, "alpha", "beta"))
	d := Decode(m1[:len(m1)-1])
	if len(d.Batches) != 0 || d.Used != 0 {
		t.Fatalf("partial frame: %+v, want nothing used", d)
	}
	log := append(append([]int64{}, m1[:3]...), m2...)
	d = Decode(log)
	if len(d.Batches) != 1 || d.Batches[0].Seq != 7 || d.Torn != 1 || d.Used != len(log) {
		t.Fatalf("torn frame then its retry: %+v", d)
	}
	// Debris without a header is skipped too.
	d = Decode(append([]int64{5, 6}, m2...))
	if len(d.Batches) != 1 || d.Used != 2+len(m2) {
		t.Fatalf("debris: %+v", d)
	}
}

func TestParseArgs(t *testing.T) {
	if o, err := ParseArgs(nil); err != nil || o.Commit != "atomic" {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--commit", "sometimes"}, {"--checkpoint-interval", "0s"}, {"extra"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
