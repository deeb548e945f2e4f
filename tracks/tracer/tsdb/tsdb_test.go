package tsdb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/distsys-curriculum/distsys/tracks/tracer/gorilla"
)

func TestOutOfOrderWithinHead(t *testing.T) {
	db := New()
	r := rand.New(rand.NewPCG(1, 1))
	ts := r.Perm(200)
	// Shuffle only within windows of 16: what concurrent writers produce.
	for i := 0; i < 200; i += 16 {
		w := r.Perm(min(16, 200-i))
		for j := range w {
			ts[i+j] = i + w[j]
		}
	}
	for _, x := range ts {
		if err := db.Append("c", Labels{"a": "1"}, gorilla.Sample{T: int64(x) * 1000, V: float64(x)}); err != nil {
			t.Fatal(err)
		}
	}
	s := db.Select("c", nil)[0].Samples()
	if len(s) != 200 {
		t.Fatalf("%d samples", len(s))
	}
	for i, x := range s {
		if x.T != int64(i)*1000 || x.V != float64(i) {
			t.Fatalf("sample %d = %+v", i, x)
		}
	}
	if err := db.Append("c", Labels{"a": "1"}, gorilla.Sample{T: (199 - HeadSize) * 1000, V: 9}); err != nil {
		t.Fatalf("duplicate of the last committed sample: %v", err)
	}
	if err := db.Append("c", Labels{"a": "1"}, gorilla.Sample{T: 500, V: 9}); err != ErrTooOld {
		t.Fatalf("late sample: %v", err)
	}
	if st := db.Stats(); st.Samples != 200 || st.Compressed != 200-HeadSize {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateAndReset(t *testing.T) {
	s := []gorilla.Sample{{T: 0, V: 10}, {T: 1000, V: 20}, {T: 2000, V: 5}, {T: 3000, V: 15}}
	// (10 + 5 + 10) over 3 s
	if r, ok := Rate(s, 10_000, 3000); !ok || math.Abs(r-25.0/3) > 1e-12 {
		t.Fatalf("rate %v %v", r, ok)
	}
	// window (1000, 3000]: 2000 and 3000 only
	if r, ok := Rate(s, 2000, 3000); !ok || r != 10 {
		t.Fatalf("windowed rate %v %v", r, ok)
	}
	if _, ok := Rate(s, 1000, 3000); ok {
		t.Fatal("rate of one sample")
	}
}

func TestSumByAndQuantile(t *testing.T) {
	db := New()
	for i := int64(0); i <= 10; i++ {
		db.Append("req", Labels{"route": "a", "node": "n1"}, gorilla.Sample{T: i * 1000, V: float64(2 * i)})
		db.Append("req", Labels{"route": "a", "node": "n2"}, gorilla.Sample{T: i * 1000, V: float64(3 * i)})
		db.Append("req", Labels{"route": "b", "node": "n1"}, gorilla.Sample{T: i * 1000, V: float64(i)})
		// 100 observations a second: 50 at <=0.1, 90 at <=0.5, all at <=1
		for le, per := range map[string]float64{"0.1": 50, "0.5": 90, "1": 100, "+Inf": 100} {
			db.Append("lat", Labels{"le": le}, gorilla.Sample{T: i * 1000, V: per * float64(i)})
		}
	}
	got := db.SumRateBy("req", nil, "route", 5000, 10_000)
	if len(got) != 2 || got["a"] != 5 || got["b"] != 1 {
		t.Fatalf("sum by route = %v", got)
	}
	if got := db.SumRateBy("req", Labels{"node": "n1"}, "route", 5000, 10_000); got["a"] != 2 {
		t.Fatalf("matched sum = %v", got)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.1}, {0.25, 0.05}, {0.7, 0.3}, {0.95, 0.75}, {1, 1}} {
		if v, ok := db.HistogramQuantile(c.q, "lat", nil, 5000, 10_000); !ok || math.Abs(v-c.want) > 1e-9 {
			t.Errorf("q%.2f = %v %v, want %v", c.q, v, ok, c.want)
		}
	}
	if _, ok := db.HistogramQuantile(0.5, "lat", nil, 5000, 100_000); ok {
		t.Error("quantile of an empty window")
	}
}

func TestAlertForDuration(t *testing.T) {
	db := New()
	db.AddRule(Rule{Name: "deep", Metric: "q", Labels: Labels{}, Threshold: 10, For: 3000})
	vals := []float64{0, 20, 0, 20, 20, 20, 20, 20, 5, 20, 20, 20, 20}
	for i, v := range vals {
		db.Append("q", Labels{}, gorilla.Sample{T: int64(i) * 1000, V: v})
	}
	// A one-sample spike at 1 s does not fire; 3..7 s fires at 6 s
	// (held 3 s), resolves at 8 s; 9..12 s fires at 12 s.
	want := []Event{{"deep", "firing", 6000}, {"deep", "resolved", 8000}, {"deep", "firing", 12000}}
	check := func() {
		t.Helper()
		got := db.Alerts()
		if len(got) != len(want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
	}
	check()
	// The same once the samples are committed to the chunk.
	for i := len(vals); i < len(vals)+HeadSize; i++ {
		db.Append("q", Labels{}, gorilla.Sample{T: int64(i) * 1000, V: 20})
	}
	check()
}
