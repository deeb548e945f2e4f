package checker

import (
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// builder writes hand-made histories: times are milliseconds since the
// start of the run.
type builder struct{ h history.History }

func (b *builder) add(typ history.Type, p int, node, f string, v any, ms int) *builder {
	b.h = append(b.h, history.Op{Index: len(b.h), Type: typ, Process: p, F: f, Value: v, Time: time.Duration(ms) * time.Millisecond, Node: node})
	return b
}

func (b *builder) inv(p int, node, f string, v any, ms int) *builder {
	return b.add(history.Invoke, p, node, f, v, ms)
}

func (b *builder) ok(p int, node, f string, v any, ms int) *builder {
	return b.add(history.OK, p, node, f, v, ms)
}

func (b *builder) fail(p int, node, f string, v any, ms int) *builder {
	b.add(history.Fail, p, node, f, v, ms)
	b.h[len(b.h)-1].Error = &history.Error{Code: 14, Name: "abort", Text: "nope"}
	return b
}

func (b *builder) info(p int, node, f string, v any, ms int) *builder {
	b.add(history.Info, p, node, f, v, ms)
	b.h[len(b.h)-1].Error = &history.Error{Code: 0, Name: "net-timeout"}
	return b
}

// final marks the last entry as part of the final phase.
func (b *builder) final() *builder {
	b.h[len(b.h)-1].Final = true
	return b
}

// call is an invocation immediately followed by its completion.
func (b *builder) call(typ history.Type, p int, node, f string, in, out any, from, to int) *builder {
	b.inv(p, node, f, in, from)
	switch typ {
	case history.OK:
		return b.ok(p, node, f, out, to)
	case history.Fail:
		return b.fail(p, node, f, out, to)
	default:
		return b.info(p, node, f, out, to)
	}
}

func i64(v int64) *int64 { return &v }

func msT(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// timedOp is an op of a generated history and when it happens, in ms;
// seq orders ops at the same ms.
type timedOp struct {
	at  int64
	seq int
	op  history.Op
}

// timeline orders generated ops by time into a history, numbering them.
func timeline(evs []timedOp) history.History {
	slices.SortFunc(evs, func(a, b timedOp) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.seq - b.seq
	})
	h := make(history.History, len(evs))
	for i, e := range evs {
		h[i] = e.op
		h[i].Index = i
		h[i].Time = time.Duration(e.at) * time.Millisecond
	}
	return h
}
