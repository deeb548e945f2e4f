package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// shardHistory: a move of shard 3 acknowledged at 1 s; requests on key 13
// (shard 3) every 100 ms fail until outageMS, requests on key 4 (shard 4)
// succeed throughout. With partition, a partition runs from 0.5 s to 5 s.
func shardHistory(outageMS int, partition bool) history.History {
	b := &builder{}
	if partition {
		b.add(history.Info, -1, "", "start-partition", map[string][]string{"n0": {"n1"}}, 500)
	}
	change := ShardChange{Op: "move", GID: 2, Shard: 3, Num: 3,
		Before: []int{1, 1, 1, 1, 1, 2, 2, 2, 2, 2}, After: []int{1, 1, 1, 2, 1, 2, 2, 2, 2, 2}}
	b.inv(0, "n3", "reconfigure", nil, 900).ok(0, "n3", "reconfigure", change, 1000)
	for ms := 1000; ms <= 8000; ms += 100 {
		b.inv(1, "n4", "read", history.KV{Key: 4}, ms).ok(1, "n4", "read", history.KV{Key: 4}, ms+5)
		if ms < outageMS {
			b.inv(2, "n4", "read", history.KV{Key: 13}, ms)
			b.h = append(b.h, history.Op{Index: len(b.h), Type: history.Fail, Process: 2, F: "read", Value: history.KV{Key: 13},
				Time: time.Duration(ms+5) * time.Millisecond, Node: "n4", Error: &history.Error{Code: 11, Name: "temporarily-unavailable"}})
		} else {
			b.inv(2, "n4", "read", history.KV{Key: 13}, ms).ok(2, "n4", "read", history.KV{Key: 13}, ms+5)
		}
	}
	if partition {
		b.add(history.Info, -1, "", "stop-partition", "network-healed", 5000)
	}
	return b.h
}

func TestShardAvailabilityWithinBound(t *testing.T) {
	res := ShardAvailability(shardHistory(1500, false), 10, 2*time.Second)
	if res.Valid != Valid {
		t.Fatalf("%s", res.Summary)
	}
	d := res.Details.(ShardAvailabilityDetails)
	if d.Judged != 1 || d.WorstMoved < 500*time.Millisecond || d.WorstMoved > 600*time.Millisecond || d.WorstStill > 200*time.Millisecond {
		t.Fatalf("details %+v", d)
	}
	if m := d.Changes[0].Change.Moved(); len(m) != 1 || m[0] != 3 {
		t.Fatalf("moved %v, want [3]", m)
	}
}

func TestShardAvailabilityOverBound(t *testing.T) {
	res := ShardAvailability(shardHistory(4000, false), 10, 2*time.Second)
	v := res.First()
	if res.Valid != Invalid || v == nil || v.Node != "n3" || v.Time != time.Second || v.Op == nil ||
		!strings.Contains(v.Detail, "shard 3 (moved: true)") {
		t.Fatalf("%s: %+v", res.Summary, v)
	}
}

// A change made during a partition is reported, not judged.
func TestShardAvailabilityDuringFault(t *testing.T) {
	res := ShardAvailability(shardHistory(4000, true), 10, 2*time.Second)
	d := res.Details.(ShardAvailabilityDetails)
	if res.Valid != Valid || d.Judged != 0 || d.WorstMoved < 3*time.Second {
		t.Fatalf("%s: %+v", res.Summary, d)
	}
}

// A shard no request ever succeeds on again waits to the end.
func TestShardAvailabilityNever(t *testing.T) {
	res := ShardAvailability(shardHistory(99999, false), 10, 2*time.Second)
	if res.Valid != Invalid || !strings.Contains(res.Summary, "never") {
		t.Fatalf("%s", res.Summary)
	}
}
