package checker

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// CacheWrite is a write the cache workload's backing store applied.
type CacheWrite struct {
	Key     int64         `json:"key"`
	Value   int64         `json:"value"`
	Version int64         `json:"version"` // 1, 2, … per key, in the order applied
	Applied time.Duration `json:"applied"` // when the store applied it
}

// CacheBackend is what the backing store saw during the run.
type CacheBackend struct {
	Writes []CacheWrite // in the order applied
	Reads  int          // read calls
	Puts   int          // write calls
	Other  int          // calls of any other kind (answered with an error)
	// MaxInFlightReads is the most reads of one key the store was
	// serving at the same moment: a thundering herd shows here.
	MaxInFlightReads int
}

// CacheOptions say what a cache stage promises.
type CacheOptions struct {
	// Mode is "read-after-write" (no read returns a value older than the
	// last write acknowledged before it began) or "ttl" (a read may
	// return a value that was replaced at most TTL ago).
	Mode string
	TTL  time.Duration
}

// CacheDetails are the cache checker's figures.
type CacheDetails struct {
	Mode              string        `json:"mode"`
	TTL               time.Duration `json:"ttl,omitempty"`
	Reads             int           `json:"reads"`  // client reads invoked
	Writes            int           `json:"writes"` // client writes invoked
	HitRatio          float64       `json:"hit_ratio"`
	BackendReads      int           `json:"backend_reads"`
	BackendWrites     int           `json:"backend_writes"`
	BackendOther      int           `json:"backend_other"`
	BackendCallsPerOp float64       `json:"backend_calls_per_op"`
	MaxInFlightReads  int           `json:"max_in_flight_backend_reads_per_key"`
	ReadLatency       Quantiles     `json:"read_latency"`
	WriteLatency      Quantiles     `json:"write_latency"`
	StaleReads        int           `json:"stale_reads"`   // reads older than an acknowledged write
	MaxStaleness      time.Duration `json:"max_staleness"` // how long their values had been replaced
	CheckedReads      int           `json:"checked_reads"` // ok reads judged
}

// Cache judges the cache workload's history against the backing store's
// log. Values are unique, so the store's log gives each value its version.
// For every ok read of key k that began at time t:
//
//   - its value must be one the store applied (or null before any write);
//   - let w be the newest version among writes to k acknowledged before t.
//     A read of an older version is stale; its staleness is t minus the
//     time the store applied the version after the one read (how long the
//     value had already been replaced when the read began).
//
// read-after-write allows no stale read; ttl allows staleness up to TTL.
// An acknowledged write whose value the store never applied is lost. The
// hit ratio is 1 − store reads / client reads: a read the store did not
// serve was served by some cache.
func Cache(h history.History, b CacheBackend, o CacheOptions) Result {
	res := Result{Checker: "cache", Valid: Valid}
	d := CacheDetails{Mode: o.Mode, TTL: o.TTL, BackendReads: b.Reads, BackendWrites: b.Puts, BackendOther: b.Other,
		MaxInFlightReads: b.MaxInFlightReads}

	version := map[int64]map[int64]CacheWrite{} // key -> value -> write
	applied := map[int64][]CacheWrite{}         // key -> writes by version
	for _, w := range b.Writes {
		if version[w.Key] == nil {
			version[w.Key] = map[int64]CacheWrite{}
		}
		version[w.Key][w.Value] = w
		applied[w.Key] = append(applied[w.Key], w)
	}
	for _, ws := range applied {
		slices.SortFunc(ws, func(a, b CacheWrite) int { return int(a.Version - b.Version) })
	}

	ops := clientOps(h)
	// Acknowledged writes per key, by completion position.
	type acked struct {
		pos     int
		version int64
		op      op
	}
	ackedBy := map[int64][]acked{}
	var readLat, writeLat []time.Duration
	var reads []op
	for _, p := range ops {
		kv, ok := p.invoke.Value.(history.KV)
		if !ok {
			continue
		}
		switch p.invoke.F {
		case "read":
			d.Reads++
			if p.outcome() == history.OK {
				reads = append(reads, p)
				readLat = append(readLat, p.completion.Time-p.invoke.Time)
			}
		case "write":
			d.Writes++
			if p.outcome() != history.OK || kv.Value == nil {
				continue
			}
			writeLat = append(writeLat, p.completion.Time-p.invoke.Time)
			w, ok := version[kv.Key][*kv.Value]
			if !ok {
				res.Violations = append(res.Violations, Violation{
					What: "lost write", Node: p.node(), Op: p.completion, Value: *kv.Value, Time: p.completion.Time,
					Detail: fmt.Sprintf("the write of %d to key %d was acknowledged %s at %s, but the backing store never applied it",
						*kv.Value, kv.Key, where(p.node(), p.invoke.Process), at(p.completion.Time)),
				})
				continue
			}
			ackedBy[kv.Key] = append(ackedBy[kv.Key], acked{pos: p.comp, version: w.Version, op: p})
		}
	}
	d.ReadLatency, d.WriteLatency = quantilesOf(readLat), quantilesOf(writeLat)
	if d.Reads > 0 {
		d.HitRatio = max(0, 1-float64(b.Reads)/float64(d.Reads))
	}
	if n := d.Reads + d.Writes; n > 0 {
		d.BackendCallsPerOp = float64(b.Reads+b.Puts+b.Other) / float64(n)
	}

	for _, p := range reads {
		kv := p.completion.Value.(history.KV)
		d.CheckedReads++
		var got int64 // version read; 0 is "never written"
		if kv.Value != nil {
			w, ok := version[kv.Key][*kv.Value]
			if !ok {
				res.Violations = append(res.Violations, Violation{
					What: "value never written", Node: p.node(), Op: p.completion, Value: *kv.Value, Time: p.completion.Time,
					Detail: fmt.Sprintf("a read of key %d %s returned %d at %s, a value the backing store never held",
						kv.Key, where(p.node(), p.invoke.Process), *kv.Value, at(p.completion.Time)),
				})
				continue
			}
			got = w.Version
		}
		// The newest write acknowledged before this read began.
		var newest *acked
		for i := range ackedBy[kv.Key] {
			a := &ackedBy[kv.Key][i]
			if a.pos < p.inv && (newest == nil || a.version > newest.version) {
				newest = a
			}
		}
		if newest == nil || newest.version <= got {
			continue
		}
		replaced := applied[kv.Key][got] // version got+1 sits at index got
		stale := p.invoke.Time - replaced.Applied
		d.StaleReads++
		d.MaxStaleness = max(d.MaxStaleness, stale)
		if o.Mode == "ttl" && stale <= o.TTL {
			continue
		}
		readVal := "null (never written)"
		if kv.Value != nil {
			readVal = fmt.Sprint(*kv.Value)
		}
		nw := newest.op
		nv := nw.invoke.Value.(history.KV).Value
		bound := "read-after-write allows none"
		if o.Mode == "ttl" {
			bound = "the stage's TTL allows " + at(o.TTL)
		}
		res.Violations = append(res.Violations, Violation{
			What: "stale read", Node: p.node(), Op: p.completion, Time: p.invoke.Time,
			Value: map[string]any{"key": kv.Key, "read": kv.Value, "acknowledged": *nv},
			Detail: fmt.Sprintf("key %d: a read %s began at %s and returned %s (version %d), but the write of %d (version %d) had been acknowledged %s at %s, before the read began; the value read had been replaced at the backing store at %s, %s earlier (%s)",
				kv.Key, where(p.node(), p.invoke.Process), at(p.invoke.Time), readVal, got, *nv, newest.version,
				where(nw.node(), nw.invoke.Process), at(nw.completion.Time), at(replaced.Applied), at(stale), bound),
		})
	}
	res.Details = d
	slices.SortStableFunc(res.Violations, func(a, b Violation) int { return int(a.Time - b.Time) })
	n := len(res.Violations)
	if len(res.Violations) > 20 {
		res.Violations = res.Violations[:20]
	}
	figures := fmt.Sprintf("hit ratio %.3f, %.2f backend calls per op, read p50 %s p99 %s; %d stale reads (max staleness %s)",
		d.HitRatio, d.BackendCallsPerOp, msText(d.ReadLatency.P50), msText(d.ReadLatency.P99), d.StaleReads, msText(d.MaxStaleness))
	if n > 0 {
		res.Valid = Invalid
		res.Summary = fmt.Sprintf("%s; %s", plural(n, "violation", "violations"), figures)
		return res
	}
	if d.CheckedReads == 0 {
		res.Valid = Unknown
		res.Summary = "no read succeeded, nothing to judge; " + figures
		return res
	}
	res.Summary = fmt.Sprintf("%d reads, %d writes: %s", d.Reads, d.Writes, figures)
	return res
}
