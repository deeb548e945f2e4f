package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// History values of the watch workload (the watcher track's coordination
// service). Keys are paths; the read/write/cas registers live under
// /kv/<n>, ephemeral keys under /eph/<lease>.

// WatchKV is a read, write or cas on the register /kv/<Key>: lin-kv's KV,
// plus the revision the service gave an acknowledged write or cas.
type WatchKV struct {
	history.KV
	Rev int64 `json:"rev,omitempty"`
}

// WatchEvent is one change a watch delivered: the revision that made it,
// the key, put or delete, and the value put.
type WatchEvent struct {
	Rev   int64  `json:"rev"`
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value *int64 `json:"value,omitempty"`
}

// WatchPoll is one poll of a watch. Stream names the watch; its polls ask
// From = the previous poll's Through + 1. A stream watch (etcd) covers
// every key under Prefix and lives for many polls; a one-shot watch
// (ZooKeeper, Once) covers the single key Prefix and ends at its first
// event. On ok, Events are the changes delivered and Through the revision
// up to which the node says the watch is complete.
type WatchPoll struct {
	Stream  int          `json:"stream"`
	Prefix  string       `json:"prefix"`
	Once    bool         `json:"once,omitempty"`
	From    int64        `json:"from"`
	Events  []WatchEvent `json:"events,omitempty"`
	Through int64        `json:"through,omitempty"`
}

// WatchSession is an op of a client that holds a lease (session): grant,
// eph-put (put Key with the lease), keepalive, or probe (a linearizable
// get of Key after the client stopped its heartbeats; Present on ok).
type WatchSession struct {
	Lease   int64         `json:"lease,omitempty"`
	TTL     time.Duration `json:"ttl,omitempty"`
	Key     string        `json:"key,omitempty"`
	Value   int64         `json:"value,omitempty"`
	Rev     int64         `json:"rev,omitempty"`
	Present bool          `json:"present,omitempty"`
}

// WatchLock is a lock op: the node acquires the lock Name, writes Value to
// the fenced resource twice (begin, end) under its token, releases the
// lock and answers with Token.
type WatchLock struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	Token int64  `json:"token,omitempty"`
}

// FencedWrite is one write the grader's fenced resource received.
type FencedWrite struct {
	Time     time.Duration `json:"time"`
	Src      string        `json:"src"`
	Token    int64         `json:"token"`
	Value    int64         `json:"value"`
	Step     string        `json:"step"`
	Accepted bool          `json:"accepted"`
}

// WatchDetails is the watch checker's evidence and figures.
type WatchDetails struct {
	Streams   int `json:"streams"`
	OneShots  int `json:"one-shots"`
	Delivered int `json:"delivered"`
	Acked     int `json:"acked-changes"`
	// Latency runs from a write's acknowledgment to the completion of the
	// poll that delivered it (0 when delivered before the ack arrived),
	// over watches that were already running when the write was acked.
	Latency Quantiles `json:"delivery-latency"`
}

// Watch checks the workload's watches: every poll of a watch delivers the
// changes after the previous one in revision order, none twice, none
// skipped: every acknowledged change to a watched key with a revision in
// the range a watch has covered must be among its events. A revision names
// one change, so events must agree with the acknowledged write of their
// revision and with each other.
func Watch(h history.History) Result {
	res := Result{Checker: "watch", Valid: Valid}
	ops := pairUp(h)
	type change struct {
		ev  WatchEvent
		src op
	}
	acked := map[int64]change{}
	var ackedList []change
	addAck := func(p op, ev WatchEvent) {
		if prev, ok := acked[ev.Rev]; ok && (prev.ev.Key != ev.Key || !sameValue(prev.ev.Value, ev.Value)) {
			res.add(Violation{What: "revision reused", Node: p.node(), Op: p.observed(), Value: ev.Rev, Time: p.observed().Time,
				Detail: fmt.Sprintf("revision %d was acknowledged for %s %s and for %s %s: a revision must name one change",
					ev.Rev, describeEvent(prev.ev), where(prev.src.node(), prev.src.invoke.Process), describeEvent(ev), where(p.node(), p.invoke.Process))})
			return
		}
		c := change{ev, p}
		acked[ev.Rev] = c
		ackedList = append(ackedList, c)
	}
	var polls []op
	for _, p := range ops {
		if p.invoke.Process < 0 || p.outcome() != history.OK {
			continue
		}
		switch v := p.completion.Value.(type) {
		case WatchKV:
			if (p.invoke.F == "write" || p.invoke.F == "cas") && v.Rev > 0 {
				val := v.Value
				if p.invoke.F == "cas" {
					val = v.To
				}
				addAck(p, WatchEvent{Rev: v.Rev, Key: fmt.Sprintf("/kv/%d", v.Key), Type: "put", Value: val})
			}
		case WatchSession:
			if p.invoke.F == "eph-put" && v.Rev > 0 {
				val := v.Value
				addAck(p, WatchEvent{Rev: v.Rev, Key: v.Key, Type: "put", Value: &val})
			}
		case WatchPoll:
			polls = append(polls, p)
		}
	}
	var d WatchDetails
	d.Acked = len(ackedList)
	seen := map[int64]change{}
	type stream struct {
		poll              WatchPoll
		start, through    int64
		last              int64
		delivered         map[int64]bool
		startTime         time.Duration
		first             op
		node              string
		once, ended, done bool
	}
	streams := map[int]*stream{}
	var order []int
	var lat []time.Duration
	for _, p := range polls {
		v := p.completion.Value.(WatchPoll)
		s := streams[v.Stream]
		if s == nil {
			s = &stream{poll: v, start: v.From, last: v.From - 1, through: v.From - 1, delivered: map[int64]bool{},
				startTime: p.invoke.Time, first: p, once: v.Once}
			streams[v.Stream] = s
			order = append(order, v.Stream)
			if v.Once {
				d.OneShots++
			} else {
				d.Streams++
			}
		}
		for _, ev := range v.Events {
			bad := func(what, detail string) {
				res.add(Violation{What: what, Node: p.node(), Op: p.observed(), Value: ev, Time: p.completion.Time,
					Detail: fmt.Sprintf("%s %s at %s (watch %d on %q from revision %d): %s", p.invoke.F, where(p.node(), p.invoke.Process), at(p.completion.Time), v.Stream, v.Prefix, s.start, detail)})
			}
			switch {
			case s.ended:
				bad("event after one-shot fired", fmt.Sprintf("delivered %s after the one-shot watch had already fired", describeEvent(ev)))
			case s.delivered[ev.Rev]:
				bad("duplicate event", fmt.Sprintf("delivered %s a second time", describeEvent(ev)))
			case ev.Rev <= s.last:
				bad("event out of order", fmt.Sprintf("delivered %s after revision %d", describeEvent(ev), s.last))
			case ev.Rev < s.start:
				bad("event before start", fmt.Sprintf("delivered %s, before the watch's start revision %d", describeEvent(ev), s.start))
			case !watchCovers(v.Prefix, v.Once, ev.Key):
				bad("event outside the watch", fmt.Sprintf("delivered %s, which is not under the watched %q", describeEvent(ev), v.Prefix))
			}
			if a, ok := acked[ev.Rev]; ok && (a.ev.Key != ev.Key || a.ev.Type != ev.Type || !sameValue(a.ev.Value, ev.Value)) {
				bad("wrong event", fmt.Sprintf("delivered %s, but revision %d was acknowledged as %s %s", describeEvent(ev), ev.Rev, describeEvent(a.ev), where(a.src.node(), a.src.invoke.Process)))
			}
			if o, ok := seen[ev.Rev]; ok && (o.ev.Key != ev.Key || o.ev.Type != ev.Type || !sameValue(o.ev.Value, ev.Value)) {
				bad("watchers disagree", fmt.Sprintf("delivered %s, but another watch %s delivered revision %d as %s", describeEvent(ev), where(o.src.node(), o.src.invoke.Process), ev.Rev, describeEvent(o.ev)))
			} else if !ok {
				seen[ev.Rev] = change{ev, p}
			}
			s.delivered[ev.Rev] = true
			s.last = max(s.last, ev.Rev)
			d.Delivered++
			if a, ok := acked[ev.Rev]; ok && a.src.completion.Time > s.startTime {
				lat = append(lat, max(0, p.completion.Time-a.src.completion.Time))
			}
			if s.once {
				s.ended = true
			}
		}
		s.through = max(s.through, v.Through, s.last)
		if s.ended {
			// A one-shot watch that fired covers nothing past its event.
			s.through = s.last
		}
		s.node = p.node()
		s.poll = v
		s.done = true
	}
	// Missed changes: acknowledged, watched, inside the covered range and
	// never delivered.
	slices.SortFunc(ackedList, func(a, b change) int { return cmp.Compare(a.ev.Rev, b.ev.Rev) })
	for _, id := range order {
		s := streams[id]
		for _, a := range ackedList {
			if a.ev.Rev < s.start || a.ev.Rev > s.through {
				continue
			}
			if !watchCovers(s.poll.Prefix, s.once, a.ev.Key) || s.delivered[a.ev.Rev] {
				continue
			}
			kind := "watch"
			if s.once {
				kind = "one-shot watch"
			}
			res.add(Violation{What: "missed event", Node: s.node, Op: s.first.observed(), Value: a.ev, Time: a.src.completion.Time,
				Detail: fmt.Sprintf("%s %d on %q from revision %d %s, complete through revision %d, never delivered %s (acknowledged %s at %s)",
					kind, id, s.poll.Prefix, s.start, where(s.node, s.first.invoke.Process), s.through, describeEvent(a.ev), where(a.src.node(), a.src.invoke.Process), at(a.src.completion.Time))})
		}
	}
	d.Latency = quantilesOf(lat)
	res.Details = d
	figures := fmt.Sprintf("%d streams and %d one-shot watches delivered %d events (%d acknowledged changes); delivery latency p50 %v p99 %v",
		d.Streams, d.OneShots, d.Delivered, d.Acked, d.Latency.P50.Round(100*time.Microsecond), d.Latency.P99.Round(100*time.Microsecond))
	res.finish(figures)
	return res
}

// add records a violation; the first one decides the verdict.
func (r *Result) add(v Violation) {
	r.Valid = Invalid
	if len(r.Violations) < maxViolations {
		r.Violations = append(r.Violations, v)
	}
}

// finish writes the summary: the figures, and the first violation if any.
func (r *Result) finish(figures string) {
	if r.Valid == Invalid {
		r.Summary = fmt.Sprintf("%s: %s; %s", r.Violations[0].What, r.Violations[0].Detail, figures)
		return
	}
	r.Summary = figures
}

func watchCovers(prefix string, once bool, key string) bool {
	if once {
		return key == prefix
	}
	return strings.HasPrefix(key, prefix)
}

func sameValue(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func describeEvent(ev WatchEvent) string {
	if ev.Type == "delete" {
		return fmt.Sprintf("delete %s @%d", ev.Key, ev.Rev)
	}
	v := "null"
	if ev.Value != nil {
		v = fmt.Sprint(*ev.Value)
	}
	return fmt.Sprintf("put %s=%s @%d", ev.Key, v, ev.Rev)
}

// EphemeralDetails is the ephemeral checker's evidence and figures.
type EphemeralDetails struct {
	Sessions int `json:"sessions"`
	// Removed sessions had a probe find their key gone; Checked ones had
	// a probe after their deadline.
	Removed int `json:"removed"`
	Checked int `json:"checked"`
	// Removal runs from the client's last sign of life to the first probe
	// that found its ephemeral key gone (an upper bound: probes are
	// spaced).
	Removal Quantiles `json:"removal-delay"`
}

// Ephemeral checks that an ephemeral key disappears once its client stops
// its heartbeats. The last sign of life is the completion of the client's
// last acknowledged grant, put or keepalive, or, for one whose outcome is
// unknown, that time plus timeout (the request may still be applied that
// much later). Removal is a change, so it is owed only while the service
// can commit changes: the key must be gone for a probe invoked later than
// bound after the later of (the last sign of life plus ttl) and (the first
// change acknowledged that was invoked after that). A session with no such
// change before its last probe went through a window with no working
// majority and is not judged.
func Ephemeral(h history.History, ttl, bound, timeout time.Duration) Result {
	res := Result{Checker: "ephemeral", Valid: Valid}
	type session struct {
		alive   time.Duration
		key     string
		probes  []op
		removed time.Duration
	}
	byLease := map[int64]*session{}
	var leases []int64
	var commits []op // acknowledged changes, by invocation
	for _, p := range pairUp(h) {
		if p.invoke.Process >= 0 && p.outcome() == history.OK && slices.Contains([]string{"write", "cas", "eph-put", "grant", "keepalive", "lock"}, p.invoke.F) {
			commits = append(commits, p)
		}
		if p.invoke.Process < 0 || p.outcome() == history.Fail {
			continue
		}
		iv, ok := p.invoke.Value.(WatchSession)
		if !ok {
			continue
		}
		if p.invoke.F == "grant" {
			if p.outcome() == history.OK {
				iv = p.completion.Value.(WatchSession)
			} else {
				continue
			}
		}
		s := byLease[iv.Lease]
		if s == nil {
			s = &session{removed: -1}
			byLease[iv.Lease] = s
			leases = append(leases, iv.Lease)
		}
		if iv.Key != "" {
			s.key = iv.Key
		}
		switch p.invoke.F {
		case "grant", "eph-put", "keepalive":
			t := p.invoke.Time + timeout
			if p.outcome() == history.OK {
				t = p.completion.Time
			} else if p.completion != nil {
				t = p.completion.Time + timeout
			}
			s.alive = max(s.alive, t)
		case "probe":
			if p.outcome() == history.OK {
				s.probes = append(s.probes, p)
			}
		}
	}
	var d EphemeralDetails
	var delays []time.Duration
	for _, l := range leases {
		s := byLease[l]
		if s.key == "" {
			continue
		}
		d.Sessions++
		due := s.alive + ttl
		i := slices.IndexFunc(commits, func(c op) bool { return c.invoke.Time >= due })
		deadline := time.Duration(-1)
		if i >= 0 {
			deadline = max(due, commits[i].completion.Time) + bound
		}
		checked := false
		for _, p := range s.probes {
			v := p.completion.Value.(WatchSession)
			if !v.Present && s.removed < 0 {
				s.removed = p.completion.Time
				d.Removed++
				delays = append(delays, max(0, p.completion.Time-s.alive))
			}
			if deadline < 0 || p.invoke.Time <= deadline {
				continue
			}
			checked = true
			if v.Present {
				res.add(Violation{What: "ephemeral key outlived its session", Node: p.node(), Op: p.observed(), Value: s.key, Time: p.completion.Time,
					Detail: fmt.Sprintf("probe %s at %s still found %s of lease %d, whose client's last sign of life was at %s; the lease was due to expire at %s (ttl %v), the service acknowledged a change invoked after that at %s, so the key should be gone by %s (bound %v)",
						where(p.node(), p.invoke.Process), at(p.invoke.Time), s.key, l, at(s.alive), at(due), ttl, at(commits[i].completion.Time), at(deadline), bound)})
				break
			}
		}
		if checked {
			d.Checked++
		}
	}
	d.Removal = quantilesOf(delays)
	res.Details = d
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	res.finish(fmt.Sprintf("%d sessions: %d keys seen removed, %d probed past their deadline; removal delay after the last heartbeat p50 %v p99 %v max %v",
		d.Sessions, d.Removed, d.Checked, ms(d.Removal.P50), ms(d.Removal.P99), ms(d.Removal.Max)))
	return res
}

// FencingDetails is the fencing checker's figures.
type FencingDetails struct {
	Locks    int `json:"locks"`
	Writes   int `json:"writes"`
	Rejected int `json:"rejected"`
}

// Fencing checks the lock recipe against the grader's fenced resource,
// which rejects a write whose token is below the highest it accepted.
// Acknowledged locks must have distinct tokens; no write of another holder
// with the same token may land between a holder's accepted begin and end
// (a higher token fences the open section off, which is what tokens are
// for); and a lock reported ok
// must have had both of its writes accepted under the token it reports.
func Fencing(h history.History, log []FencedWrite) Result {
	res := Result{Checker: "fencing", Valid: Valid}
	var d FencingDetails
	byToken := map[int64]op{}
	type acc struct{ begin, end bool }
	accepted := map[int64]*acc{}
	var open *FencedWrite
	for i := range log {
		w := log[i]
		d.Writes++
		if !w.Accepted {
			d.Rejected++
			continue
		}
		a := accepted[w.Value]
		if a == nil {
			a = &acc{}
			accepted[w.Value] = a
		}
		if open != nil && open.Value != w.Value && w.Token > open.Token {
			open = nil // a newer holder: the open section is fenced off
		}
		if open != nil && open.Value != w.Value {
			res.add(Violation{What: "two holders wrote", Node: w.Src, Value: w.Value, Time: w.Time,
				Detail: fmt.Sprintf("the resource accepted %s's %s of value %d (token %d) at %s while %s's section for value %d (token %d) was open: both believed they held the lock",
					w.Src, w.Step, w.Value, w.Token, at(w.Time), open.Src, open.Value, open.Token)})
		}
		switch w.Step {
		case "begin":
			a.begin = true
			open = &log[i]
		case "end":
			a.end = true
			open = nil
		}
	}
	for _, p := range pairUp(h) {
		if p.invoke.F != "lock" || p.outcome() != history.OK {
			continue
		}
		d.Locks++
		v, ok := p.completion.Value.(WatchLock)
		if !ok {
			continue
		}
		if q, dup := byToken[v.Token]; dup {
			res.add(Violation{What: "fencing token reused", Node: p.node(), Op: p.observed(), Value: v.Token, Time: p.completion.Time,
				Detail: fmt.Sprintf("lock %s at %s was granted token %d, already granted to the lock %s at %s", where(p.node(), p.invoke.Process), at(p.completion.Time), v.Token, where(q.node(), q.invoke.Process), at(q.completion.Time))})
		}
		byToken[v.Token] = p
		if a := accepted[v.Value]; a == nil || !a.begin || !a.end {
			res.add(Violation{What: "lock reported without its writes", Node: p.node(), Op: p.observed(), Value: v.Value, Time: p.completion.Time,
				Detail: fmt.Sprintf("lock %s at %s reported success for value %d, but the fenced resource did not accept both its begin and end writes", where(p.node(), p.invoke.Process), at(p.completion.Time), v.Value)})
		}
	}
	res.Details = d
	res.finish(fmt.Sprintf("%d locks held, %d resource writes, %d rejected as stale", d.Locks, d.Writes, d.Rejected))
	return res
}
