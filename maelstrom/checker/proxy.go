package checker

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// ProxyIncr is the proxy workload's increment: its request_id and, once
// acknowledged, the value it returned.
type ProxyIncr struct {
	Key       int64  `json:"key"`
	RequestID string `json:"request_id"`
	Result    *int64 `json:"result,omitempty"`
}

// ProxyChange is one increment the origin applied.
type ProxyChange struct {
	Key       int64         `json:"key"`
	Value     int64         `json:"value"` // after the increment
	At        time.Duration `json:"at"`
	RequestID string        `json:"request_id"`
}

// ProxyOrigin is what the proxy workload's origin saw.
type ProxyOrigin struct {
	Gets, Incrs, Refused, Other int
	HotGets                     int // gets of the hot key 0, which only bursts read
	Changes                     []ProxyChange
	ClientRetries               int // attempts clients repeated after a timeout
}

// ProxyDetails are the proxy checker's figures.
type ProxyDetails struct {
	Gets             int       `json:"gets"`
	Incrs            int       `json:"incrs"`
	OriginCalls      int       `json:"origin_calls"`
	OriginCallsPerOp float64   `json:"origin_calls_per_op"`
	OriginRefused    int       `json:"origin_refused"`
	ClientRetries    int       `json:"client_retries"`
	DuplicateEffects int       `json:"duplicate_effects"`
	HotClientGets    int       `json:"hot_client_gets"`
	HotOriginGets    int       `json:"hot_origin_gets"`
	HotRatio         float64   `json:"hot_ratio"` // origin reads per client read of the hot key
	GetLatency       Quantiles `json:"get_latency"`
	IncrLatency      Quantiles `json:"incr_latency"`
	Limit            float64   `json:"hot_ratio_limit"`
}

// ProxyHotLimit is the most origin reads per client read of the hot key
// that a proxy may cause during bursts.
const ProxyHotLimit = 0.10

// Proxy judges the proxy workload's history against the origin's log:
//
//   - every ok get returns the origin's value at some moment between its
//     invocation and its completion (counters only grow, so: at least the
//     value just before it began, at most the value when it ended; a change
//     at the instant it began is concurrent with it);
//   - every request_id takes effect at the origin at most once, and an
//     acknowledged incr exactly once, returning the value its effect made;
//   - during hot-key bursts, the origin serves at most ProxyHotLimit reads
//     per client read of the hot key.
func Proxy(h history.History, o ProxyOrigin) Result {
	res := Result{Checker: "proxy", Valid: Valid}
	d := ProxyDetails{OriginCalls: o.Gets + o.Incrs + o.Refused + o.Other, OriginRefused: o.Refused,
		ClientRetries: o.ClientRetries, HotOriginGets: o.HotGets, Limit: ProxyHotLimit}
	times := map[int64][]time.Duration{} // key -> when each increment landed
	effects := map[string][]ProxyChange{}
	for _, c := range o.Changes {
		times[c.Key] = append(times[c.Key], c.At)
		effects[c.RequestID] = append(effects[c.RequestID], c)
	}
	for _, ts := range times {
		slices.Sort(ts)
	}
	// A change logged at the very instant a get began may have landed
	// after the origin served that get: under virtual time with no network
	// latency, ops dispatched together (the schedule catching up) reach the
	// origin at one instant, in any order. So the least a get may return
	// counts the changes strictly before it began; the most counts those
	// up to and including the instant it ended.
	before := func(key int64, t time.Duration) int64 {
		ts := times[key]
		return int64(sort.Search(len(ts), func(i int) bool { return ts[i] >= t }))
	}
	upTo := func(key int64, t time.Duration) int64 {
		ts := times[key]
		return int64(sort.Search(len(ts), func(i int) bool { return ts[i] > t }))
	}
	var getLat, incrLat []time.Duration
	byID := map[string]op{}
	for _, p := range clientOps(h) {
		switch v := p.invoke.Value.(type) {
		case history.KV:
			d.Gets++
			if v.Key == 0 {
				d.HotClientGets++
			}
			if p.outcome() != history.OK {
				continue
			}
			getLat = append(getLat, p.completion.Time-p.invoke.Time)
			got := p.completion.Value.(history.KV)
			lo, hi := before(v.Key, p.invoke.Time), upTo(v.Key, p.completion.Time)
			if got.Value == nil || *got.Value < lo || *got.Value > hi {
				res.Violations = append(res.Violations, Violation{
					What: "wrong value", Node: p.node(), Op: p.completion, Value: got, Time: p.completion.Time,
					Detail: fmt.Sprintf("a get of key %d %s, from %s to %s, returned %s, but the origin's value was %d just before it began and %d when it ended",
						v.Key, where(p.node(), p.invoke.Process), at(p.invoke.Time), at(p.completion.Time), fmtPtr(got.Value), lo, hi),
				})
			}
		case ProxyIncr:
			d.Incrs++
			byID[v.RequestID] = p
			if p.outcome() != history.OK {
				continue
			}
			incrLat = append(incrLat, p.completion.Time-p.invoke.Time)
			got := p.completion.Value.(ProxyIncr)
			eff := effects[v.RequestID]
			switch {
			case len(eff) == 0:
				res.Violations = append(res.Violations, Violation{
					What: "lost increment", Node: p.node(), Op: p.completion, Value: got, Time: p.completion.Time,
					Detail: fmt.Sprintf("incr %s of key %d was acknowledged %s at %s, but the origin never applied it",
						v.RequestID, v.Key, where(p.node(), p.invoke.Process), at(p.completion.Time)),
				})
			case got.Result == nil || *got.Result != eff[0].Value:
				res.Violations = append(res.Violations, Violation{
					What: "wrong result", Node: p.node(), Op: p.completion, Value: got, Time: p.completion.Time,
					Detail: fmt.Sprintf("incr %s of key %d returned %s %s at %s, but its effect at the origin made the counter %d",
						v.RequestID, v.Key, fmtPtr(got.Result), where(p.node(), p.invoke.Process), at(p.completion.Time), eff[0].Value),
				})
			}
		}
	}
	ids := make([]string, 0, len(effects))
	for id, eff := range effects {
		if len(eff) > 1 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return int(effects[a][1].At - effects[b][1].At) })
	for _, id := range ids {
		eff := effects[id]
		d.DuplicateEffects += len(eff) - 1
		v := Violation{What: "duplicate effect", Value: id, Time: eff[1].At,
			Detail: fmt.Sprintf("request %s incremented key %d %d times at the origin (at %s and %s%s); a retried request must take effect once",
				id, eff[0].Key, len(eff), at(eff[0].At), at(eff[1].At), map[bool]string{true: ", …", false: ""}[len(eff) > 2])}
		if p, ok := byID[id]; ok {
			v.Node, v.Op = p.node(), p.observed()
		}
		res.Violations = append(res.Violations, v)
	}
	slices.SortStableFunc(res.Violations, func(a, b Violation) int { return int(a.Time - b.Time) })
	d.GetLatency, d.IncrLatency = quantilesOf(getLat), quantilesOf(incrLat)
	if n := d.Gets + d.Incrs; n > 0 {
		d.OriginCallsPerOp = float64(d.OriginCalls) / float64(n)
	}
	if d.HotClientGets > 0 {
		d.HotRatio = float64(d.HotOriginGets) / float64(d.HotClientGets)
		if d.HotRatio > ProxyHotLimit {
			res.Violations = append(res.Violations, Violation{
				What: "origin overload", Value: d.HotOriginGets,
				Detail: fmt.Sprintf("during hot-key bursts the origin served %d reads of the hot key for %d client reads (%.0f%%); at most %.0f%% is allowed: concurrent requests for one key should share one origin call",
					d.HotOriginGets, d.HotClientGets, 100*d.HotRatio, 100*ProxyHotLimit),
			})
		}
	}
	res.Details = d
	figures := fmt.Sprintf("%.2f origin calls per op, %d client retries, %d duplicate effects", d.OriginCallsPerOp, d.ClientRetries, d.DuplicateEffects)
	if d.HotClientGets > 0 {
		figures += fmt.Sprintf(", hot key: %d origin reads for %d client reads (%.1f%%)", d.HotOriginGets, d.HotClientGets, 100*d.HotRatio)
	}
	figures += fmt.Sprintf(", get p50 %s p99 %s", msText(d.GetLatency.P50), msText(d.GetLatency.P99))
	if n := len(res.Violations); n > 0 {
		res.Valid = Invalid
		if n > 20 {
			res.Violations = res.Violations[:20]
		}
		res.Summary = fmt.Sprintf("%s; %s", plural(n, "violation", "violations"), figures)
		return res
	}
	res.Summary = fmt.Sprintf("%d gets, %d incrs: %s", d.Gets, d.Incrs, figures)
	return res
}

func fmtPtr(v *int64) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprint(*v)
}
