package consensus

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"extra"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
	o, err := ParseArgs([]string{"--snapshot-every", "10", "--ack-early"})
	if err != nil || o.Raft.SnapshotEvery != 10 || !o.AckEarly {
		t.Fatalf("ParseArgs: %+v, %v", o, err)
	}
}

// The state machine applies a retried append once and survives a
// snapshot round trip.
func TestValueLog(t *testing.T) {
	var l valueLog
	apply := func(client string, seq uint64, v int64) string {
		data, _ := json.Marshal(entry{Client: client, Seq: seq, Value: v})
		raw, _ := json.Marshal(l.Apply(0, data))
		return string(raw)
	}
	if got := apply("c1", 1, 10); got != `{"index":1}` {
		t.Fatalf("first append: %s", got)
	}
	apply("c2", 1, 20)
	if got := apply("c1", 1, 10); got != `{"index":1}` {
		t.Fatalf("retried append: %s, want the first result", got)
	}
	snap, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var r valueLog
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Values, []int64{10, 20}) {
		t.Fatalf("restored values %v, want [10 20]", r.Values)
	}
}
