package checker

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// maxWorstStale matches Jepsen's set-full, which details the 8 stalest
// elements.
const maxWorstStale = 8

// SetFullDetails is SetFull's evidence, with Jepsen's field names.
// Latencies are in milliseconds.
type SetFullDetails struct {
	AttemptCount    int                `json:"attempt-count"`
	StableCount     int                `json:"stable-count"`
	StaleCount      int                `json:"stale-count"`
	Stale           []int64            `json:"stale,omitempty"`
	WorstStale      []SetElement       `json:"worst-stale,omitempty"`
	LostCount       int                `json:"lost-count"`
	Lost            []int64            `json:"lost,omitempty"`
	NeverReadCount  int                `json:"never-read-count"`
	NeverRead       []int64            `json:"never-read,omitempty"`
	StableLatencies map[string]float64 `json:"stable-latencies,omitempty"`
	LostLatencies   map[string]float64 `json:"lost-latencies,omitempty"`
	DuplicatedCount int                `json:"duplicated-count"`
	UnreadableReads int                `json:"unreadable-read-count,omitempty"`
}

// SetElement is what SetFull learned about one element.
type SetElement struct {
	Element     int64          `json:"element"`
	Outcome     string         `json:"outcome"` // stable, lost or never-read
	KnownAt     *time.Duration `json:"known-time,omitempty"`
	LastPresent *time.Duration `json:"last-present-time,omitempty"` // invocation of the latest read that had it
	LastAbsent  *time.Duration `json:"last-absent-time,omitempty"`  // invocation of the latest read that lacked it
	LatencyMS   float64        `json:"latency-ms"`
}

// setElem is the per-element state of the analysis. Read indices are
// ordinals into the ok reads, which are in invocation order.
type setElem struct {
	v           int64
	addInv      int // history position of the add's invocation
	addOK       *op // the add, when it completed ok
	lastPresent int // latest-invoked eligible read containing v, or -1
	lastAbsent  int // latest-invoked eligible read lacking v, or -1
	firstSeen   int // eligible read with the earliest completion containing v, or -1
}

// SetFull is Jepsen's set-full checker (non-linearizable mode) for a grow-
// only set whose elements are added by addF ("broadcast" or "add") and
// observed by "read".
//
// An element becomes known when its add is acknowledged or a read first
// shows it. It is stable when the latest-invoked read that could see it
// contains it, lost when that read lacks it although it was already known,
// and never-read otherwise. A read can see an element when it completed
// after the element's add was invoked. The verdict is invalid if anything
// was lost, unknown if nothing is stable (nothing was confirmed), else
// valid: stale reads (known but absent earlier) are allowed and measured.
//
// Jepsen compares every read with every tracked element. This version
// walks the reads from the latest-invoked down, keeps the elements whose
// latest absence is still unknown in an order-statistics tree, and only
// visits the elements a read mentions plus the ones it newly finds absent:
// time linear in the size of the history (times a log), memory linear in
// the number of elements and reads.
func SetFull(h history.History, addF string) Result {
	res := Result{Checker: "set-full", Valid: Valid}
	ops := pairUp(h)

	idx := map[int64]int{}
	var order []*setElem // in add-invocation order
	var reads []op       // ok reads, in invocation order
	for _, p := range ops {
		if p.invoke.Process < 0 {
			continue
		}
		switch p.invoke.F {
		case addF:
			v, ok := asInt64(p.invoke.Value)
			if !ok {
				continue
			}
			i, seen := idx[v]
			if !seen {
				i = len(order)
				idx[v] = i
				order = append(order, &setElem{v: v, addInv: p.inv, lastPresent: -1, lastAbsent: -1, firstSeen: -1})
			}
			e := order[i]
			if p.outcome() == history.OK && (e.addOK == nil || p.comp < e.addOK.comp) {
				p := p
				e.addOK = &p
			}
		case "read":
			if p.outcome() == history.OK {
				reads = append(reads, p)
			}
		}
	}
	lookup := newElemIndex(idx, len(order))
	addInvs := make([]int, len(order))
	for i, e := range order {
		addInvs[i] = e.addInv
	}

	// The hot loop touches these per element; plain slices keep it in
	// cache where a pointer per element would not.
	n := len(order)
	stamp := filled(n, -1)       // last read that mentioned the element, to spot duplicates
	lastPresent := filled(n, -1) // latest-invoked eligible read containing it
	lastAbsent := filled(n, -1)  // latest-invoked eligible read lacking it
	firstSeen := filled(n, -1)   // eligible read with the earliest completion containing it
	firstSeenComp := make([]int, n)

	// Elements whose latest absence is not yet found, by add order.
	open := newOrderStat(n)
	dups, unreadable := 0, 0
	for j := len(reads) - 1; j >= 0; j-- {
		r := reads[j]
		vals, ok := asInt64s(r.completion.Value)
		if !ok {
			unreadable++
			continue
		}
		j32 := int32(j)
		// Elements this read could see: those whose add was invoked
		// before it completed.
		eligible, _ := slices.BinarySearch(addInvs, r.comp)
		presentOpen := 0
		for _, v := range vals {
			i := lookup.get(v)
			if i < 0 || i >= eligible {
				continue
			}
			if stamp[i] == j32 {
				dups++
				continue
			}
			stamp[i] = j32
			if lastPresent[i] < 0 {
				lastPresent[i] = j32
			}
			if firstSeen[i] < 0 || r.comp < firstSeenComp[i] {
				firstSeen[i], firstSeenComp[i] = j32, r.comp
			}
			if open.has(i) {
				presentOpen++
			}
		}
		missing := open.countBelow(eligible) - presentOpen
		for i := open.prevBelow(eligible); missing > 0 && i >= 0; {
			prev := open.prev(i)
			if stamp[i] != j32 {
				lastAbsent[i] = j32
				open.remove(i)
				missing--
			}
			i = prev
		}
	}
	for i, e := range order {
		e.lastPresent, e.lastAbsent, e.firstSeen = int(lastPresent[i]), int(lastAbsent[i]), int(firstSeen[i])
	}

	var d SetFullDetails
	d.AttemptCount = len(order)
	d.DuplicatedCount = dups
	d.UnreadableReads = unreadable
	var stableLat, lostLat []float64
	var worst []SetElement
	type lostEx struct {
		e      *setElem
		absent op
		known  op
	}
	var lost []lostEx
	for _, e := range order {
		// Known: the earliest completion that showed the element existed.
		known := e.addOK
		if e.firstSeen >= 0 && (known == nil || reads[e.firstSeen].comp < known.comp) {
			known = &reads[e.firstSeen]
		}
		lastPresent, lastAbsent := e.lastPresent, e.lastAbsent
		out := SetElement{Element: e.v}
		if known != nil {
			t := known.completion.Time
			out.KnownAt = &t
		}
		if lastPresent >= 0 {
			t := reads[lastPresent].invoke.Time
			out.LastPresent = &t
		}
		if lastAbsent >= 0 {
			t := reads[lastAbsent].invoke.Time
			out.LastAbsent = &t
		}
		switch {
		case lastPresent >= 0 && lastAbsent < lastPresent:
			out.Outcome = "stable"
			d.StableCount++
			// Stale for as long as reads invoked after it was known still
			// missed it.
			var lat time.Duration
			if lastAbsent >= 0 {
				lat = max(0, reads[lastAbsent].invoke.Time+time.Nanosecond-known.completion.Time)
			}
			out.LatencyMS = ms(lat)
			stableLat = append(stableLat, out.LatencyMS)
			if lat > 0 {
				d.StaleCount++
				d.Stale = append(d.Stale, e.v)
				worst = append(worst, out)
			}
		case known != nil && lastAbsent >= 0 && reads[lastAbsent].inv > known.comp:
			out.Outcome = "lost"
			d.LostCount++
			d.Lost = append(d.Lost, e.v)
			out.LatencyMS = ms(max(0, reads[lastAbsent].invoke.Time-known.completion.Time))
			lostLat = append(lostLat, out.LatencyMS)
			lost = append(lost, lostEx{e: e, absent: reads[lastAbsent], known: *known})
		default:
			out.Outcome = "never-read"
			d.NeverReadCount++
			d.NeverRead = append(d.NeverRead, e.v)
		}
	}
	slices.SortStableFunc(worst, func(a, b SetElement) int { return cmp.Compare(b.LatencyMS, a.LatencyMS) })
	d.WorstStale = worst[:min(len(worst), maxWorstStale)]
	d.StableLatencies = latencyPoints(stableLat)
	d.LostLatencies = latencyPoints(lostLat)
	res.Details = d

	for _, l := range lost[:min(len(lost), maxViolations)] {
		how := "its add was acknowledged"
		if l.known.invoke.F != addF {
			how = "a read returned it"
		}
		a := l.absent
		res.Violations = append(res.Violations, Violation{
			What: "lost element", Node: a.node(), Op: a.completion, Value: l.e.v, Time: a.invoke.Time,
			Detail: fmt.Sprintf("element %d was known at %s (%s %s) but the last read that could see it, invoked at %s %s, did not contain it; once acknowledged, every element must reach every node and stay",
				l.e.v, at(l.known.completion.Time), how, where(l.known.node(), l.known.invoke.Process), at(a.invoke.Time), where(a.node(), a.invoke.Process)),
		})
	}
	summary := fmt.Sprintf("%d attempted, %d stable (%d stale), %d lost, %d never read", d.AttemptCount, d.StableCount, d.StaleCount, d.LostCount, d.NeverReadCount)
	switch {
	case d.LostCount > 0:
		res.Valid = Invalid
		res.Summary = summary + "; first lost: " + res.Violations[0].Detail
	case unreadable > 0:
		// Any of those reads might have lacked an element.
		res.Valid = Unknown
		res.Summary = summary + fmt.Sprintf("; but %d ok reads returned something other than a list of integers, so losses cannot be ruled out", unreadable)
	case d.StableCount == 0:
		res.Valid = Unknown
		res.Summary = summary + "; no element was confirmed by a read, so nothing can be concluded (did the final reads succeed?)"
	default:
		res.Summary = summary
	}
	return res
}

func filled(n int, v int32) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencyPoints reports the 0, 0.5, 0.95, 0.99 and 1 quantiles, keyed as
// Jepsen keys them.
func latencyPoints(xs []float64) map[string]float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	out := map[string]float64{}
	for _, q := range []struct {
		k string
		q float64
	}{{"0", 0}, {"0.5", 0.5}, {"0.95", 0.95}, {"0.99", 0.99}, {"1", 1}} {
		out[q.k] = quantile(s, q.q)
	}
	return out
}
