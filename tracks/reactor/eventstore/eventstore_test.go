package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func ev(id string, at int64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":%q,"at":%d}`, id, at))
}

func TestAppendChecksExpectedVersions(t *testing.T) {
	s := New()
	vs, pos, err := s.Append([]Write{{Stream: "a", Expected: 0, Events: []json.RawMessage{ev("1", 1), ev("2", 2)}}})
	if err != nil || vs[0] != 2 || pos != 2 {
		t.Fatalf("first append: %v %d %v", vs, pos, err)
	}
	// Two writers decided on version 2; the second must be refused, and a
	// refused multi-stream append changes no stream.
	if _, _, err := s.Append([]Write{{Stream: "a", Expected: 2, Events: []json.RawMessage{ev("3", 3)}}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Append([]Write{
		{Stream: "b", Expected: 0, Events: []json.RawMessage{ev("4", 4)}},
		{Stream: "a", Expected: 2, Events: []json.RawMessage{ev("5", 4)}},
	})
	var c *ConflictError
	if !errors.As(err, &c) || c.Stream != "a" || c.Expected != 2 || c.Actual != 3 {
		t.Fatalf("stale append: %v", err)
	}
	if s.Version("b") != 0 || s.End() != 3 {
		t.Fatalf("a refused append left b at %d and the log at %d", s.Version("b"), s.End())
	}
	vs, pos, err = s.Append([]Write{
		{Stream: "b", Expected: 0, Events: []json.RawMessage{ev("4", 4)}},
		{Stream: "a", Expected: 3, Events: []json.RawMessage{ev("5", 4)}},
	})
	if err != nil || vs[0] != 1 || vs[1] != 4 || pos != 5 {
		t.Fatalf("transfer: %v %d %v", vs, pos, err)
	}
}

func TestIgnoreExpectedLosesTheConflict(t *testing.T) {
	s := New()
	s.IgnoreExpected = true
	s.Append([]Write{{Stream: "a", Expected: 0, Events: []json.RawMessage{ev("1", 1)}}})
	vs, _, err := s.Append([]Write{{Stream: "a", Expected: 0, Events: []json.RawMessage{ev("2", 1)}}})
	if err != nil || vs[0] != 2 {
		t.Fatalf("the counter-example should append at the end: %v %v", vs, err)
	}
}

func TestReadsAndAsOf(t *testing.T) {
	s := New()
	for i := range 10 {
		stream := []string{"a", "b"}[i%2]
		s.Append([]Write{{Stream: stream, Expected: s.Version(stream), Events: []json.RawMessage{ev(fmt.Sprint(i), int64(10*i))}}})
	}
	all := s.ReadAll(4, 3)
	if len(all) != 3 || all[0].Position != 4 || all[2].Position != 6 {
		t.Fatalf("ReadAll(4, 3) = %+v", all)
	}
	if got := s.ReadAll(11, 5); len(got) != 0 {
		t.Fatalf("read past the end: %+v", got)
	}
	b := s.ReadStream("b", 2, 10)
	if len(b) != 4 || b[0].Version != 2 || b[0].Position != 4 || b[3].Version != 5 {
		t.Fatalf("ReadStream(b, 2) = %+v", b)
	}
	// a's events are stamped 0, 20, 40, 60, 80.
	for _, c := range []struct{ t, want int64 }{{-1, 0}, {0, 1}, {39, 2}, {40, 3}, {1000, 5}} {
		if got := s.VersionAt("a", c.t); got != c.want {
			t.Errorf("VersionAt(a, %d) = %d, want %d", c.t, got, c.want)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := New()
	for i := range 6 {
		stream := []string{"a", "b", "c"}[i%3]
		s.Append([]Write{{Stream: stream, Expected: s.Version(stream), Events: []json.RawMessage{ev(fmt.Sprint(i), int64(i))}}})
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := json.Unmarshal(data, r); err != nil {
		t.Fatal(err)
	}
	if r.End() != 6 || r.Version("c") != 2 || r.VersionAt("c", 4) != 1 {
		t.Fatalf("restored store: end %d, c at %d", r.End(), r.Version("c"))
	}
	if _, _, err := r.Append([]Write{{Stream: "c", Expected: 1, Events: []json.RawMessage{ev("x", 9)}}}); err == nil {
		t.Fatal("the restored store accepted a stale expected version")
	}
	bad := []byte(`{"log":[{"stream":"a","version":2,"position":1,"event":{}}]}`)
	if err := json.Unmarshal(bad, New()); err == nil {
		t.Fatal("a snapshot with a version gap was accepted")
	}
}

// Loading through snapshots equals folding the whole stream, at every
// version, while folding at most Every-1 events.
func TestSnapshotsEqualTheFold(t *testing.T) {
	sum := func(n int64, raw json.RawMessage) int64 {
		var e struct {
			At int64 `json:"at"`
		}
		json.Unmarshal(raw, &e)
		return n*3 + e.At // order-sensitive
	}
	s := New()
	sn := NewSnapshots(4, sum)
	for i := range 23 {
		_, pos, _ := s.Append([]Write{{Stream: "a", Expected: s.Version("a"), Events: []json.RawMessage{ev(fmt.Sprint(i), int64(i))}}})
		sn.Observe(s.ReadAll(pos, 1)[0])
	}
	for v := int64(0); v <= 23; v++ {
		var want int64
		for _, r := range s.ReadStream("a", 1, int(v)) {
			want = sum(want, r.Event)
		}
		got, folded := sn.State(s, "a", v)
		if got != want || folded >= 4 {
			t.Errorf("version %d: %d after folding %d events, want %d", v, got, folded, want)
		}
	}
}
