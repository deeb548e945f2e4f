package checker

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The eventstore workload's history values and its two checkers:
// EventStore judges the log (versions, expected versions, atomicity, the
// no-overdraft invariant) and every answer read from it (aggregate loads,
// stream and global reads, "as of" queries); Projection judges the read
// models (each answer equals the fold of the log prefix it claims to
// reflect, every node's converges to the whole log) and measures how
// stale they are. The fold of the bank-account events is the grader's own.

// ESEvent is an event as the client writes it. The store treats it as
// opaque apart from id (unique to the event) and at (the client's clock,
// ms since the start of the run, for "as of" a time).
type ESEvent struct {
	ID     string `json:"id"`
	Type   string `json:"type"` // opened, deposited, withdrawn, transfer_out, transfer_in
	Amount int64  `json:"amount,omitempty"`
	Peer   string `json:"peer,omitempty"` // the other account of a transfer
	At     int64  `json:"at"`
}

// ESRecord is a stored event: its stream, its version in the stream (from
// 1) and its position in the global log (from 1).
type ESRecord struct {
	Stream   string  `json:"stream"`
	Version  int64   `json:"version"`
	Position int64   `json:"position"`
	Event    ESEvent `json:"event"`
}

// ESAccount is an account's state, the fold of its stream.
type ESAccount struct {
	Open    bool  `json:"open"`
	Balance int64 `json:"balance"`
}

// ESWrite is one stream's part of an append: the events go at versions
// Expected+1, Expected+2, ... or not at all.
type ESWrite struct {
	Stream   string    `json:"stream"`
	Expected int64     `json:"expected_version"`
	Events   []ESEvent `json:"events"`
}

// ESLoad is an aggregate load: the state at Version.
type ESLoad struct {
	Stream  string    `json:"stream"`
	Version int64     `json:"version"`
	State   ESAccount `json:"state"`
}

// ESAppend is a command: the client loads the aggregates, decides and
// appends (all writes or none). Op numbers the command; the invocation
// carries only Command and Op, the completion everything the client did.
type ESAppend struct {
	Op       int64     `json:"op"`
	Command  string    `json:"command"` // open, deposit, withdraw, transfer
	Account  string    `json:"account"`
	Peer     string    `json:"peer,omitempty"` // a transfer's other account
	Loads    []ESLoad  `json:"loads,omitempty"`
	Writes   []ESWrite `json:"writes,omitempty"`
	Versions []int64   `json:"versions,omitempty"` // from append_ok
	Position int64     `json:"position,omitempty"` // from append_ok: the last event's
}

// ESAsOf is a temporal query: the state as of a version (Version set) or
// a time (Time set, ms since the start of the run); Got and State are the
// answer.
type ESAsOf struct {
	Stream  string    `json:"stream"`
	Version *int64    `json:"version,omitempty"`
	Time    *int64    `json:"time,omitempty"`
	Got     int64     `json:"got"`
	State   ESAccount `json:"state"`
}

// ESRead is a read of the global log (Stream empty: from position From)
// or of one stream (from version From), at most Max events.
type ESRead struct {
	Stream string     `json:"stream,omitempty"`
	From   int64      `json:"from"`
	Max    int        `json:"max"`
	Events []ESRecord `json:"events"`
}

// ESReadModel is a read-model query: the balances of the accounts opened
// by Position, the global position the projection has applied through.
type ESReadModel struct {
	Position int64            `json:"position"`
	Balances map[string]int64 `json:"balances"`
}

// EventStoreDetails are the figures of the eventstore checker.
type EventStoreDetails struct {
	Events      int   `json:"events"` // in the log
	Streams     int   `json:"streams"`
	Acked       int   `json:"acked-appends"`
	Conflicts   int   `json:"refused-conflicts"` // appends refused with error 22
	Indefinite  int   `json:"indefinite-appends"`
	Overdrafts  int   `json:"overdrafts"`
	AsOf        int   `json:"as-of-answers"`
	Loads       int   `json:"loads"`
	Reads       int   `json:"reads"`
	LogPosition int64 `json:"log-end"`
}

// ProjectionDetails are the figures of the projection checker. Staleness
// of a read-model answer is how long before the query the oldest
// acknowledged append it does not reflect was acknowledged (0 if it
// reflects every acknowledged append).
type ProjectionDetails struct {
	Answers   int       `json:"answers"`
	Fresh     int       `json:"fresh"` // answers reflecting every acknowledged append
	Staleness Quantiles `json:"staleness"`
	Converged []string  `json:"converged-nodes"`
}

// esLog is the log as the reads of the final phase saw it.
type esLog struct {
	byPos   []ESRecord            // index position-1
	streams map[string][]ESRecord // index version-1
	states  map[string][]ESAccount
	end     int64
	// The read that reached the end: where a phantom event was seen.
	readTime time.Duration
	reader   string
}

// esFold applies one event to an account; it returns a description of
// the rule the event breaks, if any.
func esFold(s ESAccount, e ESEvent) (ESAccount, string) {
	switch e.Type {
	case "opened":
		if s.Open {
			return s, "opened an account that was already open"
		}
		return ESAccount{Open: true}, ""
	case "deposited", "transfer_in":
		if !s.Open {
			return s, e.Type + " on an account never opened"
		}
		s.Balance += e.Amount
	case "withdrawn", "transfer_out":
		if !s.Open {
			return s, e.Type + " on an account never opened"
		}
		s.Balance -= e.Amount
		if s.Balance < 0 {
			return s, fmt.Sprintf("balance went to %d", s.Balance)
		}
	default:
		return s, "unknown event type " + e.Type
	}
	return s, ""
}

func describeESEvent(r ESRecord) string {
	e := r.Event
	s := fmt.Sprintf("v%d %s %s", r.Version, e.ID, e.Type)
	if e.Amount != 0 {
		s += fmt.Sprintf(" %d", e.Amount)
	}
	if e.Peer != "" {
		s += " (peer " + e.Peer + ")"
	}
	return s
}

type esAttempt struct {
	op    op
	value ESAppend // the completion's value, with the writes
	known bool     // the writes are known
}

// EventStore checks the eventstore workload's log and reads. attempts
// lists every append the client sent (its writes are known even when the
// run ended before the reply), by ESAppend.Op.
func EventStore(h history.History, attempts map[int64]ESAppend) Result {
	res := Result{Checker: "eventstore", Valid: Valid}
	ops := pairUp(h)
	var d EventStoreDetails
	log, unknown := buildESLog(ops, &res)
	if res.Valid == Invalid {
		res.finish("the reads of the log disagree")
		return res
	}
	if unknown != "" {
		res.Valid = Unknown
		res.Summary = unknown
		return res
	}
	d.Events, d.Streams, d.LogPosition = len(log.byPos), len(log.streams), log.end

	// Each event's append, from its id.
	byID := map[string]*esAttempt{}
	writeOf := map[string]ESWrite{}
	indexIn := map[string]int{}
	var appends []*esAttempt
	for _, o := range ops {
		if o.invoke.F != "append" {
			continue
		}
		inv, _ := o.invoke.Value.(ESAppend)
		a := &esAttempt{op: o}
		if o.completion != nil {
			if v, ok := o.completion.Value.(ESAppend); ok && len(v.Writes) > 0 {
				a.value, a.known = v, true
			}
		}
		if !a.known {
			if v, ok := attempts[inv.Op]; ok && len(v.Writes) > 0 {
				a.value, a.known = v, true
			}
		}
		appends = append(appends, a)
		switch o.outcome() {
		case history.OK:
			d.Acked++
		case history.Fail:
			if o.completion.Error != nil && o.completion.Error.Code == 22 {
				d.Conflicts++
			}
		default:
			if a.known {
				d.Indefinite++
			}
		}
		for _, w := range a.value.Writes {
			for i, e := range w.Events {
				byID[e.ID] = a
				writeOf[e.ID] = w
				indexIn[e.ID] = i
			}
		}
	}

	// The invariant, in the log: no account below zero, and what the
	// overdrawing append did not see. Overdrafts are reported first: they
	// are what a lost update costs the bank.
	var overdrafts, others []Violation
	for _, name := range esKeys(log.streams) {
		s := ESAccount{}
		seenOverdraft, seenOther := false, false
		for _, r := range log.streams[name] {
			var broke string
			s, broke = esFold(s, r.Event)
			if broke == "" {
				continue
			}
			a := byID[r.Event.ID]
			what := "invalid event sequence"
			if strings.HasPrefix(broke, "balance") {
				d.Overdrafts++
				what = "overdraft"
			}
			// The first of each kind per stream explains the rest.
			if (what == "overdraft" && seenOverdraft) || (what != "overdraft" && seenOther) {
				continue
			}
			detail := fmt.Sprintf("stream %s, %s: %s", name, describeESEvent(r), broke)
			if a != nil {
				w := writeOf[r.Event.ID]
				detail += fmt.Sprintf("; its append (%s, op %d) decided on version %d", a.value.Command, a.value.Op, w.Expected)
				for _, l := range a.value.Loads {
					if l.Stream == name {
						detail += fmt.Sprintf(" (balance %d)", l.State.Balance)
					}
				}
				if w.Expected < r.Version-1 {
					var unseen []string
					lo, hi := max(w.Expected, 0), min(r.Version-1, int64(len(log.streams[name])))
					if hi-lo > 4 {
						unseen = append(unseen, "...")
					}
					for _, u := range log.streams[name][max(lo, hi-4):hi] {
						unseen = append(unseen, describeESEvent(u))
					}
					span := fmt.Sprintf("versions %d to %d", lo+1, hi)
					if hi == lo+1 {
						span = fmt.Sprintf("version %d", hi)
					}
					detail += fmt.Sprintf(" and never saw the %s appended concurrently at %s: %s", plural(int(hi-lo), "event", "events"), span, strings.Join(unseen, ", "))
				}
			}
			v := Violation{What: what, Value: r, Time: esTime(a), Node: nodeOf(a), Op: opOf(a), Detail: detail}
			if what == "overdraft" {
				overdrafts, seenOverdraft = append(overdrafts, v), true
			} else {
				others, seenOther = append(others, v), true
			}
		}
	}

	for _, v := range append(overdrafts, others...) {
		res.add(v)
	}

	// Versions: dense per stream, each event once.
	seen := map[string]ESRecord{}
	for _, r := range log.byPos {
		if prev, dup := seen[r.Event.ID]; dup {
			res.add(Violation{What: "duplicate event", Value: r, Time: esTime(byID[r.Event.ID]),
				Node: nodeOf(byID[r.Event.ID]), Op: opOf(byID[r.Event.ID]),
				Detail: fmt.Sprintf("event %s is in the log twice: %s at position %d and %s at position %d", r.Event.ID, describeESEvent(prev), prev.Position, describeESEvent(r), r.Position)})
		}
		seen[r.Event.ID] = r
	}
	for _, name := range esKeys(log.streams) {
		for i, r := range log.streams[name] {
			if want := int64(i + 1); r.Version != want {
				what := "version gap"
				if r.Version < want {
					what = "duplicate version"
				}
				a := byID[r.Event.ID]
				res.add(Violation{What: what, Value: r, Time: esTime(a), Node: nodeOf(a), Op: opOf(a),
					Detail: fmt.Sprintf("stream %s: event %s at position %d has version %d where version %d comes next", name, r.Event.ID, r.Position, r.Version, want)})
				break
			}
		}
	}

	// Each logged event where its append's expected version puts it.
	for _, r := range log.byPos {
		a := byID[r.Event.ID]
		if a == nil {
			res.add(Violation{What: "phantom event", Value: r, Time: log.readTime,
				Node: log.reader, Detail: fmt.Sprintf("event %s at position %d (stream %s, version %d) was never appended by any client", r.Event.ID, r.Position, r.Stream, r.Version)})
			continue
		}
		w := writeOf[r.Event.ID]
		if r.Stream != w.Stream {
			res.add(Violation{What: "event in the wrong stream", Value: r, Time: esTime(a), Node: nodeOf(a), Op: opOf(a),
				Detail: fmt.Sprintf("event %s was appended to %s but is in stream %s", r.Event.ID, w.Stream, r.Stream)})
			continue
		}
		if r.Event != w.Events[indexIn[r.Event.ID]] {
			res.add(Violation{What: "altered event", Value: r, Time: esTime(a), Node: nodeOf(a), Op: opOf(a),
				Detail: fmt.Sprintf("event %s is stored as %+v, appended as %+v", r.Event.ID, r.Event, w.Events[indexIn[r.Event.ID]])})
			continue
		}
		if want := w.Expected + int64(indexIn[r.Event.ID]) + 1; r.Version != want {
			res.add(Violation{What: "expected version ignored", Value: r, Time: esTime(a), Node: nodeOf(a), Op: opOf(a),
				Detail: fmt.Sprintf("stream %s: event %s (%s) was appended expecting version %d, so it belongs at version %d, but the store put it at version %d: the append should have been refused as a conflict",
					r.Stream, r.Event.ID, r.Event.Type, w.Expected, want, r.Version)})
		}
	}

	// Appends: acknowledged ones whole in the log where the reply said,
	// refused ones absent, unknown ones whole or absent.
	for _, a := range appends {
		if !a.known {
			continue
		}
		in, out := 0, 0
		var missing string
		for _, w := range a.value.Writes {
			for _, e := range w.Events {
				if _, ok := seen[e.ID]; ok {
					in++
				} else {
					out++
					missing = e.ID
				}
			}
		}
		o := a.op
		switch {
		case o.outcome() == history.OK && out > 0:
			res.add(Violation{What: "lost append", Value: a.value, Time: o.completion.Time, Node: o.node(), Op: o.observed(),
				Detail: fmt.Sprintf("append %d (%s) was acknowledged but event %s is not in the log", a.value.Op, a.value.Command, missing)})
		case o.outcome() == history.Fail && in > 0:
			res.add(Violation{What: "refused append took effect", Value: a.value, Time: o.completion.Time, Node: o.node(), Op: o.observed(),
				Detail: fmt.Sprintf("append %d (%s) was refused (%s) but %d of its events are in the log", a.value.Op, a.value.Command, errText(o.completion), in)})
		case in > 0 && out > 0:
			res.add(Violation{What: "torn append", Value: a.value, Time: o.observed().Time, Node: o.node(), Op: o.observed(),
				Detail: fmt.Sprintf("append %d (%s) is partly in the log: %d events in, %d (such as %s) missing; its writes are all or nothing", a.value.Op, a.value.Command, in, out, missing)})
		}
		if o.outcome() == history.OK && out == 0 {
			for i, w := range a.value.Writes {
				if i < len(a.value.Versions) {
					last := seen[w.Events[len(w.Events)-1].ID]
					if last.Version != a.value.Versions[i] {
						res.add(Violation{What: "wrong version acknowledged", Value: a.value, Time: o.completion.Time, Node: o.node(), Op: o.observed(),
							Detail: fmt.Sprintf("append %d answered version %d for %s; its last event is at version %d", a.value.Op, a.value.Versions[i], w.Stream, last.Version)})
					}
				}
			}
			var lastPos int64
			for _, w := range a.value.Writes {
				for _, e := range w.Events {
					lastPos = max(lastPos, seen[e.ID].Position)
				}
			}
			if a.value.Position != lastPos {
				res.add(Violation{What: "wrong position acknowledged", Value: a.value, Time: o.completion.Time, Node: o.node(), Op: o.observed(),
					Detail: fmt.Sprintf("append %d answered position %d; its last event is at position %d", a.value.Op, a.value.Position, lastPos)})
			}
		}
	}

	// Answers read from the log.
	for _, o := range ops {
		if o.outcome() != history.OK {
			continue
		}
		switch v := o.completion.Value.(type) {
		case ESAppend:
			for _, l := range v.Loads {
				d.Loads++
				checkESState(&res, log, o, "load", l.Stream, l.Version, l.State)
			}
		case ESAsOf:
			d.AsOf++
			checkAsOf(&res, log, o, v, byID)
		case ESRead:
			d.Reads++
			checkESRead(&res, log, o, v)
		}
	}
	figures := fmt.Sprintf("%d events in %d streams; %d appends acknowledged, %d refused as conflicts, %d unknown; %d loads, %d as-of answers, %d reads checked",
		d.Events, d.Streams, d.Acked, d.Conflicts, d.Indefinite, d.Loads, d.AsOf, d.Reads)
	res.Details = d
	res.finish(figures)
	return res
}

func errText(c *history.Op) string {
	if c == nil || c.Error == nil {
		return "error"
	}
	return fmt.Sprintf("error %d", c.Error.Code)
}

func esTime(a *esAttempt) time.Duration {
	if a == nil {
		return 0
	}
	return a.op.observed().Time
}

func nodeOf(a *esAttempt) string {
	if a == nil {
		return ""
	}
	return a.op.node()
}

func opOf(a *esAttempt) *history.Op {
	if a == nil {
		return nil
	}
	return a.op.observed()
}

func esKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// buildESLog assembles the log from every global read (they must agree
// where they overlap, and each must be a contiguous run from its start).
// It needs a read of the final phase that reached the end of its node's
// log; otherwise the log is unknown and so is the verdict.
func buildESLog(ops []op, res *Result) (*esLog, string) {
	l := &esLog{streams: map[string][]ESRecord{}, states: map[string][]ESAccount{}}
	byPos := map[int64]ESRecord{}
	reachedEnd := false
	for _, o := range ops {
		if o.outcome() != history.OK {
			continue
		}
		r, ok := o.completion.Value.(ESRead)
		if !ok || r.Stream != "" {
			continue
		}
		for i, e := range r.Events {
			if e.Position != r.From+int64(i) {
				res.add(Violation{What: "gap in a read", Value: e, Time: o.completion.Time, Node: o.node(), Op: o.completion,
					Detail: fmt.Sprintf("a read from position %d returned position %d as its event number %d: positions are dense", r.From, e.Position, i+1)})
				return l, ""
			}
			if prev, ok := byPos[e.Position]; ok && prev != e {
				res.add(Violation{What: "divergent reads", Value: e, Time: o.completion.Time, Node: o.node(), Op: o.completion,
					Detail: fmt.Sprintf("position %d read as %s %s and elsewhere as %s %s", e.Position, e.Stream, describeESEvent(e), prev.Stream, describeESEvent(prev))})
				return l, ""
			}
			byPos[e.Position] = e
			l.end = max(l.end, e.Position)
		}
		if o.final() && len(r.Events) < r.Max {
			reachedEnd = true
			l.readTime, l.reader = o.completion.Time, o.node()
		}
	}
	if !reachedEnd {
		return l, "no read of the final phase reached the end of the log, so the log is unknown"
	}
	for p := int64(1); p <= l.end; p++ {
		r, ok := byPos[p]
		if !ok {
			return l, fmt.Sprintf("position %d of %d was never read, so the log is unknown", p, l.end)
		}
		l.byPos = append(l.byPos, r)
		l.streams[r.Stream] = append(l.streams[r.Stream], r)
	}
	for name, rs := range l.streams {
		st := []ESAccount{{}}
		s := ESAccount{}
		for _, r := range rs {
			s, _ = esFold(s, r.Event)
			st = append(st, s)
		}
		l.states[name] = st
	}
	return l, ""
}

// checkESState: a state read at version v must be the fold of the
// stream's first v events.
func checkESState(res *Result, l *esLog, o op, what, stream string, v int64, got ESAccount) bool {
	st := l.states[stream]
	if st == nil {
		st = []ESAccount{{}}
	}
	if v < 0 || v >= int64(len(st)) {
		res.add(Violation{What: what + " of a version that never existed", Value: o.completion.Value, Time: o.completion.Time, Node: o.node(), Op: o.completion,
			Detail: fmt.Sprintf("%s of %s answered version %d; the stream has %d events", what, stream, v, len(st)-1)})
		return false
	}
	if st[v] != got {
		res.add(Violation{What: what + " differs from the fold", Value: o.completion.Value, Time: o.completion.Time, Node: o.node(), Op: o.completion,
			Detail: fmt.Sprintf("%s of %s answered %+v at version %d; the fold of its first %d events is %+v", what, stream, got, v, v, st[v])})
		return false
	}
	return true
}

func checkAsOf(res *Result, l *esLog, o op, q ESAsOf, byID map[string]*esAttempt) {
	if !checkESState(res, l, o, "as-of", q.Stream, q.Got, q.State) {
		return
	}
	rs := l.streams[q.Stream]
	if q.Version != nil {
		if q.Got != *q.Version {
			res.add(Violation{What: "as-of answered another version", Value: q, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("as of version %d of %s answered the state at version %d", *q.Version, q.Stream, q.Got)})
		}
		return
	}
	if q.Time == nil {
		return
	}
	for _, r := range rs[:q.Got] {
		if r.Event.At > *q.Time {
			res.add(Violation{What: "as-of includes a later event", Value: q, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("as of time %d ms, %s answered version %d, which includes %s stamped at %d ms", *q.Time, q.Stream, q.Got, describeESEvent(r), r.Event.At)})
			return
		}
	}
	if q.Got < int64(len(rs)) {
		next := rs[q.Got]
		a := byID[next.Event.ID]
		if next.Event.At <= *q.Time && a != nil && a.op.outcome() == history.OK && a.op.comp < o.inv {
			res.add(Violation{What: "as-of misses an event", Value: q, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("as of time %d ms, %s answered version %d, leaving out %s stamped at %d ms, acknowledged at %s before the query began",
					*q.Time, q.Stream, q.Got, describeESEvent(next), next.Event.At, at(a.op.completion.Time))})
		}
	}
}

// checkESRead: a stream read returns the stream's events from its start
// version on, in order (global reads were checked building the log).
func checkESRead(res *Result, l *esLog, o op, r ESRead) {
	if r.Stream == "" {
		return
	}
	rs := l.streams[r.Stream]
	for i, e := range r.Events {
		v := r.From + int64(i)
		if v < 1 || v > int64(len(rs)) || rs[v-1] != e {
			want := "nothing"
			if v >= 1 && v <= int64(len(rs)) {
				want = describeESEvent(rs[v-1])
			}
			res.add(Violation{What: "stream read differs from the log", Value: e, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("reading %s from version %d returned %s at position %d as event number %d; the log has %s at version %d", r.Stream, r.From, describeESEvent(e), e.Position, i+1, want, v)})
			return
		}
	}
}

// Projection checks the read models: every answer equals the fold of the
// log through the position it claims, and each node's last answer of the
// final phase covers the whole log. It measures staleness.
func Projection(h history.History) Result {
	res := Result{Checker: "projection", Valid: Valid}
	ops := pairUp(h)
	var scratch Result
	log, unknown := buildESLog(ops, &scratch)
	if scratch.Valid == Invalid || unknown != "" {
		res.Valid = Unknown
		res.Summary = "the log is unknown (see the eventstore checker), so the read models cannot be judged"
		return res
	}
	// Balances after each position, computed once for the positions asked.
	var answers []op
	type ack struct {
		at  time.Duration
		pos int64
	}
	var acks []ack
	for _, o := range ops {
		if o.outcome() != history.OK {
			continue
		}
		switch v := o.completion.Value.(type) {
		case ESReadModel:
			answers = append(answers, o)
		case ESAppend:
			acks = append(acks, ack{o.completion.Time, v.Position})
		}
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i].at < acks[j].at })
	byPos := slices.Clone(answers)
	sort.SliceStable(byPos, func(i, j int) bool {
		return byPos[i].completion.Value.(ESReadModel).Position < byPos[j].completion.Value.(ESReadModel).Position
	})
	balances := map[string]int64{}
	accounts := map[string]ESAccount{}
	next := int64(1)
	var d ProjectionDetails
	for _, o := range byPos {
		m := o.completion.Value.(ESReadModel)
		if m.Position > log.end || m.Position < 0 {
			res.add(Violation{What: "read model ahead of the log", Value: m, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("the read model claims position %d; the log ends at %d", m.Position, log.end)})
			continue
		}
		for ; next <= m.Position; next++ {
			r := log.byPos[next-1]
			accounts[r.Stream], _ = esFold(accounts[r.Stream], r.Event)
			if accounts[r.Stream].Open {
				balances[r.Stream] = accounts[r.Stream].Balance
			}
		}
		if !maps.Equal(balances, m.Balances) {
			res.add(Violation{What: "read model differs from the fold", Value: m, Time: o.completion.Time, Node: o.node(), Op: o.completion,
				Detail: fmt.Sprintf("at position %d the read model holds %s; the fold of the log's first %d events is %s", m.Position, fmtBalances(m.Balances), m.Position, fmtBalances(balances))})
		}
	}
	// Staleness, and convergence: each node's last final answer.
	var stale []time.Duration
	last := map[string]op{}
	for _, o := range answers {
		m := o.completion.Value.(ESReadModel)
		d.Answers++
		s := time.Duration(0)
		for _, a := range acks {
			if a.at >= o.invoke.Time {
				break
			}
			if a.pos > m.Position {
				s = o.invoke.Time - a.at
				break
			}
		}
		if s == 0 {
			d.Fresh++
		}
		stale = append(stale, s)
		if o.final() {
			last[o.node()] = o
		}
	}
	d.Staleness = quantilesOf(stale)
	for _, n := range esKeys(last) {
		o := last[n]
		m := o.completion.Value.(ESReadModel)
		if m.Position != log.end {
			res.add(Violation{What: "read model did not converge", Value: m, Time: o.completion.Time, Node: n, Op: o.completion,
				Detail: fmt.Sprintf("%s's last read-model answer of the final phase reflects position %d; the log ends at %d", n, m.Position, log.end)})
			continue
		}
		d.Converged = append(d.Converged, n)
	}
	res.Details = d
	figures := fmt.Sprintf("%d answers (%d reflecting every acknowledged append); staleness p50 %s, p99 %s, max %s; converged on %d nodes",
		d.Answers, d.Fresh, esMs(d.Staleness.P50), esMs(d.Staleness.P99), esMs(d.Staleness.Max), len(d.Converged))
	if len(last) == 0 && res.Valid == Valid {
		res.Valid = Unknown
		res.Summary = "no read model answered in the final phase, so convergence is unknown; " + figures
		return res
	}
	res.finish(figures)
	return res
}

func esMs(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func fmtBalances(b map[string]int64) string {
	var parts []string
	for _, k := range esKeys(b) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, b[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
