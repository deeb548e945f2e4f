package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func kv(k int64, v *int64) history.KV { return history.KV{Key: k, Value: v} }

// cacheRun: value 10 written (version 1, applied at 100 ms, acked at
// 120 ms), then value 20 (version 2, applied 300 ms, acked 320 ms); one
// read of key 1 that began at readAt and returned got.
func cacheRun(got *int64, readAt int, o CacheOptions) Result {
	b := &builder{}
	b.call(history.OK, 0, "n0", "write", kv(1, i64(10)), kv(1, i64(10)), 90, 120)
	if readAt < 320 { // the read overlaps the second write
		b.inv(0, "n0", "write", kv(1, i64(20)), 290)
		b.call(history.OK, 1, "n1", "read", kv(1, nil), kv(1, got), readAt, readAt+5)
		b.ok(0, "n0", "write", kv(1, i64(20)), 320)
	} else {
		b.call(history.OK, 0, "n0", "write", kv(1, i64(20)), kv(1, i64(20)), 290, 320)
		b.call(history.OK, 1, "n1", "read", kv(1, nil), kv(1, got), readAt, readAt+5)
	}
	return Cache(b.h, CacheBackend{Reads: 1, Puts: 2, Writes: []CacheWrite{
		{Key: 1, Value: 10, Version: 1, Applied: msT(100)}, {Key: 1, Value: 20, Version: 2, Applied: msT(300)},
	}}, o)
}

func TestCacheReadAfterWrite(t *testing.T) {
	raw := CacheOptions{Mode: "read-after-write"}
	if r := cacheRun(i64(20), 400, raw); r.Valid != Valid {
		t.Fatalf("current read judged %s: %s", r.Valid, r.Summary)
	}
	// Overlapping the second write: either value will do.
	if r := cacheRun(i64(10), 310, raw); r.Valid != Valid {
		t.Fatalf("read concurrent with the write judged %s: %s", r.Valid, r.Summary)
	}
	r := cacheRun(i64(10), 400, raw)
	if r.Valid != Invalid || r.First().What != "stale read" {
		t.Fatalf("stale read judged %s: %s", r.Valid, r.Summary)
	}
	// Replaced at 300 ms, read at 400 ms: 100 ms stale.
	if d := r.Details.(CacheDetails); d.MaxStaleness != msT(100) || d.StaleReads != 1 {
		t.Fatalf("staleness %v, %d stale reads", d.MaxStaleness, d.StaleReads)
	}
	for _, want := range []string{"key 1", "returned 10 (version 1)", "write of 20 (version 2)", "0.320s", "0.100s earlier"} {
		if !strings.Contains(r.First().Detail, want) {
			t.Errorf("detail lacks %q: %s", want, r.First().Detail)
		}
	}
	if r := cacheRun(nil, 400, raw); r.Valid != Invalid {
		t.Fatalf("a read of null after two writes judged %s", r.Valid)
	}
	if r := cacheRun(i64(99), 400, raw); r.Valid != Invalid || r.First().What != "value never written" {
		t.Fatalf("invented value judged %s: %s", r.Valid, r.Summary)
	}
}

func TestCacheTTLStaleness(t *testing.T) {
	ttl := CacheOptions{Mode: "ttl", TTL: msT(100)}
	if r := cacheRun(i64(10), 400, ttl); r.Valid != Valid {
		t.Fatalf("100 ms stale under a 100 ms TTL judged %s: %s", r.Valid, r.Summary)
	}
	r := cacheRun(i64(10), 401, ttl)
	if r.Valid != Invalid || !strings.Contains(r.First().Detail, "TTL allows 0.100s") {
		t.Fatalf("101 ms stale under a 100 ms TTL judged %s: %s", r.Valid, r.Summary)
	}
}

func TestCacheLostWriteAndFigures(t *testing.T) {
	b := &builder{}
	b.call(history.OK, 0, "n0", "write", kv(1, i64(10)), kv(1, i64(10)), 0, 10)
	b.call(history.OK, 1, "n0", "read", kv(2, nil), kv(2, nil), 20, 25)
	b.call(history.OK, 1, "n0", "read", kv(2, nil), kv(2, nil), 30, 35)
	r := Cache(b.h, CacheBackend{Reads: 1}, CacheOptions{Mode: "read-after-write"})
	if r.Valid != Invalid || r.First().What != "lost write" {
		t.Fatalf("lost write judged %s: %s", r.Valid, r.Summary)
	}
	d := r.Details.(CacheDetails)
	if d.HitRatio != 0.5 || d.BackendCallsPerOp != 1.0/3 {
		t.Fatalf("hit ratio %v, calls per op %v", d.HitRatio, d.BackendCallsPerOp)
	}
}
