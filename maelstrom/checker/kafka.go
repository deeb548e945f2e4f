package checker

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Kafka error types, named as Jepsen's kafka checker names them. All of
// them invalidate a run; the allowed ones (int-send-skip, G0 cycles) are
// not reported.
const (
	KafkaLostWrite          = "lost-write"
	KafkaUnseen             = "unseen"
	KafkaInconsistentOffset = "inconsistent-offsets"
	KafkaDuplicate          = "duplicate"
	KafkaPollSkip           = "poll-skip"
	KafkaNonmonotonicPoll   = "nonmonotonic-poll"
	KafkaIntPollSkip        = "int-poll-skip"
	KafkaIntNonmonotonic    = "int-nonmonotonic-poll"
	KafkaNonmonotonicSend   = "nonmonotonic-send"
	KafkaG1a                = "G1a"
)

// kafkaTypes lists the error types in reporting order.
func kafkaTypes() []string {
	return []string{KafkaLostWrite, KafkaUnseen, KafkaInconsistentOffset, KafkaDuplicate, KafkaPollSkip, KafkaNonmonotonicPoll,
		KafkaIntPollSkip, KafkaIntNonmonotonic, KafkaNonmonotonicSend, KafkaG1a}
}

// KafkaErrors is how often one error type occurred and its first example.
type KafkaErrors struct {
	Count int       `json:"count"`
	First Violation `json:"first"`
}

// KafkaDetails is Kafka's evidence.
type KafkaDetails struct {
	SendCount   int                    `json:"send-count"` // acknowledged sends
	PollCount   int                    `json:"poll-count"` // ok polls
	KeyCount    int                    `json:"key-count"`
	ErrorTypes  []string               `json:"error-types,omitempty"`
	Errors      map[string]KafkaErrors `json:"errors,omitempty"`
	UnseenByKey map[string]int         `json:"unseen-by-key,omitempty"`
}

// kafkaLog is what the whole history says about one key's log.
type kafkaLog struct {
	msgAt      map[int64]int64          // offset -> the first message seen there
	msgOffsets map[int64]map[int64]bool // message -> offsets it was seen at
	polled     map[int64]bool           // messages some poll returned
	failed     map[int64]op             // messages whose send definitely failed
	order      []int64                  // known offsets, ascending: the version order
	pos        map[int64]int            // offset -> index in order
	maxPolled  int64                    // highest offset any poll returned, -1 if none
	maxPollOp  op                       // the poll that returned it
	conflicts  map[int64]map[int64]bool // offset -> messages, for reporting
	sends      []kafkaSent              // acknowledged sends, in completion order
}

type kafkaSent struct {
	p      op
	msg    int64
	offset int64
	hasOff bool
}

func newKafkaLog() *kafkaLog {
	return &kafkaLog{
		msgAt: map[int64]int64{}, msgOffsets: map[int64]map[int64]bool{}, polled: map[int64]bool{},
		failed: map[int64]op{}, pos: map[int64]int{}, maxPolled: -1, conflicts: map[int64]map[int64]bool{},
	}
}

// kafkaReport collects errors per type, keeping the first example.
type kafkaReport struct {
	errs map[string]*KafkaErrors
}

func (r *kafkaReport) add(typ string, p op, value any, detail string) {
	e := r.errs[typ]
	if e == nil {
		o := p.observed()
		e = &KafkaErrors{First: Violation{What: typ, Node: p.node(), Op: o, Value: value, Time: o.Time, Detail: detail}}
		r.errs[typ] = e
	}
	e.Count++
}

// Kafka runs Jepsen's kafka analyses on a kafka workload history.
//
// Offsets from acknowledged sends and from polls give each key a version
// order (offsets ascending). Against it, the checker finds messages lost or
// never seen, offsets holding two messages, messages at two offsets, polls
// that skip over or go back across known messages (between consecutive
// polls of one process, tracking reset when an assign drops the key or
// seeks to the beginning, and within one poll), sends of one process that
// land out of order, and polls that return a message whose send
// definitely failed (G1a).
func Kafka(h history.History) Result {
	res := Result{Checker: "kafka", Valid: Valid}
	rep := &kafkaReport{errs: map[string]*KafkaErrors{}}
	logs := map[string]*kafkaLog{}
	logOf := func(k string) *kafkaLog {
		if logs[k] == nil {
			logs[k] = newKafkaLog()
		}
		return logs[k]
	}
	var d KafkaDetails

	ops := pairUp(h)
	done := make([]op, 0, len(ops))
	for _, p := range ops {
		if p.invoke.Process >= 0 {
			done = append(done, p)
		}
	}
	// Completion order: that is when an op's observations became facts.
	// Ops that never completed sort last and carry no observations.
	slices.SortStableFunc(done, func(a, b op) int {
		ka, kb := a.comp, b.comp
		if ka < 0 {
			ka = len(h) + a.inv
		}
		if kb < 0 {
			kb = len(h) + b.inv
		}
		return ka - kb
	})

	// Pass 1: every offset and message anyone observed.
	see := func(p op, key string, offset, msg int64) {
		l := logOf(key)
		if prev, ok := l.msgAt[offset]; !ok {
			l.msgAt[offset] = msg
		} else if prev != msg {
			if l.conflicts[offset] == nil {
				l.conflicts[offset] = map[int64]bool{prev: true}
			}
			if !l.conflicts[offset][msg] {
				l.conflicts[offset][msg] = true
				rep.add(KafkaInconsistentOffset, p, map[string]any{"key": key, "offset": offset, "msgs": sortedKeys(l.conflicts[offset])},
					fmt.Sprintf("key %s offset %d holds message %d according to %s %s at %s, but message %d according to earlier ops; an offset must name one message forever",
						key, offset, msg, p.invoke.F, where(p.node(), p.invoke.Process), at(p.observed().Time), prev))
			}
		}
		if l.msgOffsets[msg] == nil {
			l.msgOffsets[msg] = map[int64]bool{}
		}
		if !l.msgOffsets[msg][offset] {
			l.msgOffsets[msg][offset] = true
			if len(l.msgOffsets[msg]) > 1 {
				rep.add(KafkaDuplicate, p, map[string]any{"key": key, "msg": msg, "offsets": sortedKeys(l.msgOffsets[msg])},
					fmt.Sprintf("key %s message %d appears at offsets %v (the latest seen by %s %s at %s); each sent message must be stored once",
						key, msg, sortedKeys(l.msgOffsets[msg]), p.invoke.F, where(p.node(), p.invoke.Process), at(p.observed().Time)))
			}
		}
	}
	for _, p := range done {
		switch p.invoke.F {
		case "send":
			s, ok := kafkaSendOf(p.invoke.Value)
			if !ok {
				continue
			}
			switch p.outcome() {
			case history.Fail:
				logOf(s.Key).failed[s.Msg] = p
			case history.OK:
				d.SendCount++
				sent := kafkaSent{p: p, msg: s.Msg}
				if c, ok := kafkaSendOf(p.completion.Value); ok && c.Offset != nil {
					sent.offset, sent.hasOff = *c.Offset, true
					see(p, s.Key, *c.Offset, s.Msg)
				}
				logOf(s.Key).sends = append(logOf(s.Key).sends, sent)
			}
		case "poll":
			if p.outcome() != history.OK {
				continue
			}
			d.PollCount++
			pl, _ := kafkaPollOf(p.completion.Value)
			for _, key := range slices.Sorted(maps.Keys(pl.Msgs)) {
				l := logOf(key)
				for _, r := range pl.Msgs[key] {
					see(p, key, r.Offset, r.Msg)
					l.polled[r.Msg] = true
					if r.Offset > l.maxPolled {
						l.maxPolled, l.maxPollOp = r.Offset, p
					}
				}
			}
		}
	}
	for _, l := range logs {
		l.order = slices.Sorted(maps.Keys(l.msgAt))
		for i, o := range l.order {
			l.pos[o] = i
		}
	}
	d.KeyCount = len(logs)

	// Pass 2: what each acknowledged send came to.
	for _, key := range slices.Sorted(maps.Keys(logs)) {
		l := logs[key]
		for _, s := range l.sends {
			if l.polled[s.msg] {
				continue
			}
			if s.hasOff && s.offset < l.maxPolled {
				mp := l.maxPollOp
				rep.add(KafkaLostWrite, s.p, map[string]any{"key": key, "msg": s.msg, "offset": s.offset},
					fmt.Sprintf("send of message %d to key %s %s was acknowledged at %s with offset %d, but no poll ever returned it, although a poll %s at %s read up to offset %d; acknowledged messages must never disappear from the log",
						s.msg, key, where(s.p.node(), s.p.invoke.Process), at(s.p.completion.Time), s.offset, where(mp.node(), mp.invoke.Process), at(mp.completion.Time), l.maxPolled))
				continue
			}
			if d.UnseenByKey == nil {
				d.UnseenByKey = map[string]int{}
			}
			d.UnseenByKey[key]++
			off := "without an offset"
			if s.hasOff {
				off = fmt.Sprintf("with offset %d", s.offset)
			}
			rep.add(KafkaUnseen, s.p, map[string]any{"key": key, "msg": s.msg, "offset": s.offset},
				fmt.Sprintf("send of message %d to key %s %s was acknowledged at %s %s, but no poll returned it by the end of the run; the final polls must catch up with every acknowledged send",
					s.msg, key, where(s.p.node(), s.p.invoke.Process), at(s.p.completion.Time), off))
		}
	}

	// Pass 3: per-process order of polls and sends.
	type cursor struct {
		pos int
		p   op
	}
	polls := map[int]map[string]cursor{} // process -> key -> end of the last poll
	sends := map[int]map[string]cursor{} // process -> key -> last send
	for _, p := range done {
		proc := p.invoke.Process
		switch p.invoke.F {
		case "assign":
			a, ok := kafkaAssignOf(p.invoke.Value)
			if p.outcome() != history.OK || !ok || a.SeekToBeginning {
				delete(polls, proc)
				continue
			}
			keep := map[string]bool{}
			for _, k := range a.Keys {
				keep[k] = true
			}
			for k := range polls[proc] {
				if !keep[k] {
					delete(polls[proc], k)
				}
			}
		case "send":
			if p.outcome() != history.OK {
				continue
			}
			s, ok := kafkaSendOf(p.invoke.Value)
			c, ok2 := kafkaSendOf(p.completion.Value)
			if !ok || !ok2 || c.Offset == nil {
				continue
			}
			at2 := logs[s.Key].pos[*c.Offset]
			if sends[proc] == nil {
				sends[proc] = map[string]cursor{}
			}
			if prev, ok := sends[proc][s.Key]; ok && at2 <= prev.pos {
				rep.add(KafkaNonmonotonicSend, p, map[string]any{"key": s.Key, "msg": s.Msg, "offset": *c.Offset},
					fmt.Sprintf("send of message %d to key %s %s landed at offset %d at %s, not after offset %d of the same process's earlier send at %s; one client's sends must land in order",
						s.Msg, s.Key, where(p.node(), proc), *c.Offset, at(p.completion.Time), logs[s.Key].order[prev.pos], at(prev.p.completion.Time)))
			}
			sends[proc][s.Key] = cursor{pos: at2, p: p}
		case "poll":
			if p.outcome() != history.OK {
				continue
			}
			pl, _ := kafkaPollOf(p.completion.Value)
			if polls[proc] == nil {
				polls[proc] = map[string]cursor{}
			}
			for _, key := range slices.Sorted(maps.Keys(pl.Msgs)) {
				recs := pl.Msgs[key]
				if len(recs) == 0 {
					continue
				}
				l := logs[key]
				for i := 1; i < len(recs); i++ {
					a, b := l.pos[recs[i-1].Offset], l.pos[recs[i].Offset]
					switch {
					case b <= a:
						rep.add(KafkaIntNonmonotonic, p, map[string]any{"key": key, "offsets": []int64{recs[i-1].Offset, recs[i].Offset}},
							fmt.Sprintf("one poll %s at %s returned key %s offset %d after offset %d; a poll must return offsets in increasing order",
								where(p.node(), proc), at(p.completion.Time), key, recs[i].Offset, recs[i-1].Offset))
					case b > a+1:
						rep.add(KafkaIntPollSkip, p, map[string]any{"key": key, "offsets": []int64{recs[i-1].Offset, recs[i].Offset}, "skipped": l.order[a+1 : b]},
							fmt.Sprintf("one poll %s at %s returned key %s offsets %d then %d, skipping known offsets %v; a poll must return contiguous messages",
								where(p.node(), proc), at(p.completion.Time), key, recs[i-1].Offset, recs[i].Offset, l.order[a+1:b]))
					}
				}
				first, last := l.pos[recs[0].Offset], l.pos[recs[len(recs)-1].Offset]
				if prev, ok := polls[proc][key]; ok {
					switch {
					case first <= prev.pos:
						rep.add(KafkaNonmonotonicPoll, p, map[string]any{"key": key, "offset": recs[0].Offset, "previous": l.order[prev.pos]},
							fmt.Sprintf("poll %s at %s returned key %s from offset %d, but the same process's previous poll (at %s) already reached offset %d; consecutive polls must move forward",
								where(p.node(), proc), at(p.completion.Time), key, recs[0].Offset, at(prev.p.completion.Time), l.order[prev.pos]))
					case first > prev.pos+1:
						rep.add(KafkaPollSkip, p, map[string]any{"key": key, "offset": recs[0].Offset, "previous": l.order[prev.pos], "skipped": l.order[prev.pos+1 : first]},
							fmt.Sprintf("poll %s at %s returned key %s from offset %d, but the same process's previous poll (at %s) ended at offset %d, so it skipped known offsets %v; poll from the offset the client asked for",
								where(p.node(), proc), at(p.completion.Time), key, recs[0].Offset, at(prev.p.completion.Time), l.order[prev.pos], l.order[prev.pos+1:first]))
					}
				}
				polls[proc][key] = cursor{pos: last, p: p}
				for _, r := range recs {
					if f, ok := l.failed[r.Msg]; ok {
						rep.add(KafkaG1a, p, map[string]any{"key": key, "msg": r.Msg, "offset": r.Offset},
							fmt.Sprintf("poll %s at %s returned message %d at key %s offset %d, but its send %s failed definitely at %s (%s); a failed send must never become visible",
								where(p.node(), proc), at(p.completion.Time), r.Msg, key, r.Offset, where(f.node(), f.invoke.Process), at(f.completion.Time), f.completion.Error.String()))
					}
				}
			}
		}
	}

	d.Errors = map[string]KafkaErrors{}
	for _, t := range kafkaTypes() {
		if e := rep.errs[t]; e != nil {
			d.ErrorTypes = append(d.ErrorTypes, t)
			d.Errors[t] = *e
			res.Violations = append(res.Violations, e.First)
		}
	}
	res.Details = d
	if len(d.ErrorTypes) > 0 {
		res.Valid = Invalid
		counts := make([]string, len(d.ErrorTypes))
		for i, t := range d.ErrorTypes {
			counts[i] = fmt.Sprintf("%s ×%d", t, d.Errors[t].Count)
		}
		res.Summary = fmt.Sprintf("%s; first: %s", strings.Join(counts, ", "), res.Violations[0].Detail)
		return res
	}
	res.Summary = fmt.Sprintf("%d acknowledged sends over %d keys, all polled in order by %d polls", d.SendCount, d.KeyCount, d.PollCount)
	return res
}

func sortedKeys(m map[int64]bool) []int64 { return slices.Sorted(maps.Keys(m)) }

func kafkaSendOf(v any) (history.KafkaSend, bool) {
	switch x := v.(type) {
	case history.KafkaSend:
		return x, true
	case *history.KafkaSend:
		if x != nil {
			return *x, true
		}
	}
	return history.KafkaSend{}, false
}

func kafkaPollOf(v any) (history.KafkaPoll, bool) {
	switch x := v.(type) {
	case history.KafkaPoll:
		return x, true
	case *history.KafkaPoll:
		if x != nil {
			return *x, true
		}
	}
	return history.KafkaPoll{}, false
}

func kafkaAssignOf(v any) (history.KafkaAssign, bool) {
	switch x := v.(type) {
	case history.KafkaAssign:
		return x, true
	case *history.KafkaAssign:
		if x != nil {
			return *x, true
		}
	}
	return history.KafkaAssign{}, false
}
