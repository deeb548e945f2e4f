package clocks

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/clocks/clockstest"
	"pgregory.net/rapid"
)

// skewedClock reads a shared base time plus a fixed offset, as the clock
// nemesis gives each node.
type skewedClock struct {
	base   *clockstest.Manual
	offset time.Duration
}

func (c skewedClock) Now() time.Time { return c.base.Now().Add(c.offset) }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// event is one step of a simulated run, with every clock's reading.
type event struct {
	proc int
	past []bool // past[e]: event e happened before this one
	lam  uint64
	vec  Vector
	hlc  Timestamp
	pt   int64 // the process's physical time when the event happened
}

type process struct {
	id   string
	lam  Lamport
	vec  *VectorClock
	hlc  *HLC
	phys skewedClock
	last int // index of the process's previous event, or -1
}

type message struct {
	send int // index of the send event
	lam  uint64
	vec  Vector
	hlc  Timestamp
}

// TestClocksAgainstHappensBefore runs random executions — local events,
// sends, receives in any order, physical time advancing, per-process clock
// skew — and checks every clock against the true happens-before relation,
// which the test tracks directly.
func TestClocksAgainstHappensBefore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const maxSkew = 5 * time.Millisecond
		base := clockstest.NewManual(epoch)
		n := rapid.IntRange(1, 5).Draw(t, "procs")
		procs := make([]*process, n)
		for i := range procs {
			off := time.Duration(rapid.Int64Range(0, int64(maxSkew)).Draw(t, "offset"))
			p := &process{id: string(rune('a' + i)), vec: NewVectorClock(string(rune('a' + i))), last: -1,
				phys: skewedClock{base: base, offset: off}}
			p.hlc = NewHLC(p.phys, maxSkew)
			procs[i] = p
		}
		var events []event
		var inflight []message
		record := func(p int, extra int) *event {
			e := event{proc: p, past: make([]bool, len(events)+1)}
			for _, from := range []int{procs[p].last, extra} {
				if from < 0 {
					continue
				}
				e.past[from] = true
				for k, in := range events[from].past {
					e.past[k] = e.past[k] || in
				}
			}
			e.pt = procs[p].phys.Now().UnixNano()
			procs[p].last = len(events)
			events = append(events, e)
			return &events[len(events)-1]
		}
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for range steps {
			base.Set(base.Now().Add(time.Duration(rapid.Int64Range(0, int64(2*time.Millisecond)).Draw(t, "advance"))))
			p := rapid.IntRange(0, n-1).Draw(t, "proc")
			pr := procs[p]
			switch kind := rapid.IntRange(0, 2).Draw(t, "kind"); {
			case kind == 0:
				e := record(p, -1)
				e.lam, e.vec, e.hlc = pr.lam.Tick(), pr.vec.Tick(), pr.hlc.Now()
			case kind == 1:
				e := record(p, -1)
				e.lam, e.vec, e.hlc = pr.lam.Send(), pr.vec.Send(), pr.hlc.Send()
				inflight = append(inflight, message{send: len(events) - 1, lam: e.lam, vec: e.vec, hlc: e.hlc})
			case len(inflight) > 0:
				i := rapid.IntRange(0, len(inflight)-1).Draw(t, "msg")
				m := inflight[i]
				inflight = append(inflight[:i], inflight[i+1:]...)
				e := record(p, m.send)
				var err error
				e.lam, e.vec = pr.lam.Recv(m.lam), pr.vec.Recv(m.vec)
				if e.hlc, err = pr.hlc.Update(m.hlc); err != nil {
					t.Fatalf("message within the skew bound refused: %v", err)
				}
			}
		}
		for b, eb := range events {
			if eb.hlc.Wall < eb.pt || eb.hlc.Wall-eb.pt > int64(maxSkew) {
				t.Fatalf("event %d: HLC wall %d not within [%d, +%v]", b, eb.hlc.Wall, eb.pt, maxSkew)
			}
			if eb.hlc.Logical > DefaultMaxLogical {
				t.Fatalf("event %d: logical %d over the bound", b, eb.hlc.Logical)
			}
			for a := range b {
				ea := events[a]
				if eb.past[a] {
					if ea.lam >= eb.lam {
						t.Fatalf("%d→%d but Lamport %d ≥ %d", a, b, ea.lam, eb.lam)
					}
					if o := ea.vec.Compare(eb.vec); o != Before {
						t.Fatalf("%d→%d but vectors %v %v are %v", a, b, ea.vec, eb.vec, o)
					}
					if !ea.hlc.Less(eb.hlc) {
						t.Fatalf("%d→%d but HLC %v ≥ %v", a, b, ea.hlc, eb.hlc)
					}
				} else if o := ea.vec.Compare(eb.vec); o != Concurrent {
					t.Fatalf("%d ∥ %d but vectors %v %v are %v", a, b, ea.vec, eb.vec, o)
				}
			}
		}
	})
}

func TestHLCMonotonicUnderAnyPhysicalClock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clk := clockstest.NewManual(epoch)
		h := NewHLC(clk, 0)
		h.SetMaxLogical(uint32(rapid.IntRange(1, 8).Draw(t, "maxLogical")))
		prev := h.Last()
		for range rapid.IntRange(1, 200).Draw(t, "steps") {
			// Physical time may jump back as well as forward.
			clk.Set(clk.Now().Add(time.Duration(rapid.Int64Range(-3, 3).Draw(t, "jump"))))
			var ts Timestamp
			if rapid.Bool().Draw(t, "recv") {
				remote := Timestamp{
					Wall:    epoch.UnixNano() + rapid.Int64Range(-5, 5).Draw(t, "rwall"),
					Logical: uint32(rapid.IntRange(0, 8).Draw(t, "rlogical")),
				}
				var err error
				if ts, err = h.Update(remote); err != nil {
					t.Fatal(err)
				}
				if !remote.Less(ts) {
					t.Fatalf("receive %v not after remote %v", ts, remote)
				}
			} else {
				ts = h.Now()
			}
			if !prev.Less(ts) {
				t.Fatalf("HLC went from %v to %v", prev, ts)
			}
			if ts.Logical > h.maxLogical {
				t.Fatalf("logical %d over bound %d", ts.Logical, h.maxLogical)
			}
			prev = ts
		}
	})
}

func TestHLCCounterBoundAdvancesWall(t *testing.T) {
	clk := clockstest.NewManual(epoch)
	h := NewHLC(clk, 0)
	h.SetMaxLogical(3)
	want := []Timestamp{
		{epoch.UnixNano(), 0}, {epoch.UnixNano(), 1}, {epoch.UnixNano(), 2}, {epoch.UnixNano(), 3},
		{epoch.UnixNano() + 1, 0}, {epoch.UnixNano() + 1, 1},
	}
	for i, w := range want {
		if got := h.Now(); got != w {
			t.Fatalf("event %d: %v, want %v", i, got, w)
		}
	}
	// Physical time catching up resets the counter.
	clk.Set(epoch.Add(time.Microsecond))
	if got := h.Now(); got != (Timestamp{epoch.Add(time.Microsecond).UnixNano(), 0}) {
		t.Fatalf("after physical advance: %v", got)
	}
}

func TestHLCRefusesTimestampsBeyondMaxOffset(t *testing.T) {
	clk := clockstest.NewManual(epoch)
	h := NewHLC(clk, time.Second)
	before := h.Now()
	far := Timestamp{Wall: epoch.Add(2 * time.Second).UnixNano()}
	got, err := h.Update(far)
	if !errors.Is(err, ErrClockOffset) {
		t.Fatalf("Update(%v) error = %v", far, err)
	}
	if got != before || h.Last() != before {
		t.Fatalf("refused update moved the clock to %v", h.Last())
	}
	near := Timestamp{Wall: epoch.Add(time.Second).UnixNano(), Logical: 7}
	if got, err := h.Update(near); err != nil || got != (Timestamp{near.Wall, 8}) {
		t.Fatalf("Update(%v) = %v, %v", near, got, err)
	}
}

func TestTimestampEncoding(t *testing.T) {
	ts := Timestamp{Wall: 1_700_000_000_000_000_123, Logical: 5}
	if s := ts.String(); s != "1700000000.000000123,5" {
		t.Fatalf("String = %q", s)
	}
	b, err := json.Marshal(ts)
	if err != nil || string(b) != `{"wall":1700000000000000123,"logical":5}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back Timestamp
	if err := json.Unmarshal(b, &back); err != nil || back != ts {
		t.Fatalf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"logical":1}`), &back); err == nil {
		t.Fatal("timestamp without wall accepted")
	}
	if (Timestamp{Wall: -1}).String() != "-1.999999999,0" {
		t.Fatalf("negative wall: %s", Timestamp{Wall: -1})
	}
}

func TestVectorCompareAndJSON(t *testing.T) {
	a := Vector{"n0": 1}
	b := Vector{"n0": 1, "n1": 0}
	if o := a.Compare(b); o != Equal {
		t.Fatalf("absent vs zero entry: %v", o)
	}
	c := Vector{"n0": 1, "n1": 2}
	d := Vector{"n0": 2}
	for _, tc := range []struct {
		x, y Vector
		want Order
	}{{a, c, Before}, {c, a, After}, {c, d, Concurrent}, {nil, a, Before}, {nil, Vector{}, Equal}} {
		if got := tc.x.Compare(tc.y); got != tc.want {
			t.Errorf("%v vs %v = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	m := c.Merge(d)
	if m.Compare(Vector{"n0": 2, "n1": 2}) != Equal || c["n0"] != 1 {
		t.Fatalf("Merge = %v and changed its receiver to %v", m, c)
	}
	raw, _ := json.Marshal(c)
	var back Vector
	if err := json.Unmarshal(raw, &back); err != nil || back.Compare(c) != Equal {
		t.Fatalf("JSON round trip %s -> %v, %v", raw, back, err)
	}
	if s := (Vector{"b": 2, "a": 1, "z": 0}).String(); s != "{a:1 b:2}" {
		t.Fatalf("String = %q", s)
	}
}

func TestClocksConcurrentUse(t *testing.T) {
	var l Lamport
	vc := NewVectorClock("n0")
	h := NewHLC(clockstest.NewManual(epoch), 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 500 {
				l.Recv(uint64(i))
				vc.Recv(Vector{"n1": uint64(i)})
				if _, err := h.Update(Timestamp{Wall: epoch.UnixNano(), Logical: 1}); err != nil {
					t.Error(err)
				}
				l.Tick()
				vc.Tick()
				h.Now()
			}
		})
	}
	wg.Wait()
	if vc.Now()["n0"] != 8*1000 {
		t.Fatalf("vector lost events: %v", vc.Now())
	}
	// Each Recv and Tick adds at least one; no increment may be lost.
	if l.Time() < 8*1000 {
		t.Fatalf("Lamport lost events: %d", l.Time())
	}
}

func BenchmarkLamportTick(b *testing.B) {
	var l Lamport
	for b.Loop() {
		l.Tick()
	}
}

func BenchmarkVectorClockRecv(b *testing.B) {
	vc := NewVectorClock("n0")
	remote := Vector{"n0": 3, "n1": 5, "n2": 7, "n3": 1, "n4": 9}
	for b.Loop() {
		vc.Recv(remote)
	}
}

func BenchmarkHLCNow(b *testing.B) {
	h := NewHLC(nil, 0)
	for b.Loop() {
		h.Now()
	}
}

func BenchmarkHLCUpdate(b *testing.B) {
	h := NewHLC(nil, time.Second)
	remote := h.Now()
	for b.Loop() {
		if _, err := h.Update(remote); err != nil {
			b.Fatal(err)
		}
	}
}
