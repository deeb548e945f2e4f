// Package history is the record of a grader run: every client operation's
// invocation and completion, in the order the grader observed them, with
// the (possibly virtual) time since the start of the run.
//
// Workloads write histories; checkers read them. The concrete type of
// Op.Value is fixed per workload so that checkers can type-switch without
// guessing:
//
//	echo            echo      invoke: string                 ok: string (what the node echoed)
//	unique-ids      generate  invoke: nil                    ok: any (the id, JSON-decoded with UseNumber)
//	broadcast       broadcast invoke/ok: int64
//	                read      invoke: nil                    ok: []int64
//	g-set           add       invoke/ok: int64               read ok: []int64
//	g-counter,      add       invoke/ok: int64 (delta)       read ok: int64
//	pn-counter
//	lin-kv          read/write/cas: KV (read ok fills Value)
//	kafka           send: KafkaSend, poll: KafkaPoll, assign: KafkaAssign, crash: nil
//	txn-*           txn: Txn (ok fills read results)
//
// Workloads introduced by this project document their values next to
// their generator.
package history

import (
	"fmt"
	"time"
)

// Type is the kind of a history entry.
type Type string

const (
	Invoke Type = "invoke" // the client sent the request
	OK     Type = "ok"     // it definitely happened
	Fail   Type = "fail"   // it definitely did not happen
	Info   Type = "info"   // unknown: it may or may not have happened
)

// Op is one entry of a history.
type Op struct {
	Index   int           `json:"index"`
	Type    Type          `json:"type"`
	Process int           `json:"process"` // Jepsen process; a new one after every :info
	F       string        `json:"f"`
	Value   any           `json:"value"`
	Time    time.Duration `json:"time"`             // since the start of the run
	Node    string        `json:"node,omitempty"`   // the server node the client talked to
	Client  string        `json:"client,omitempty"` // the client id on the wire, e.g. c7
	Error   *Error        `json:"error,omitempty"`
	Final   bool          `json:"final,omitempty"` // issued in the final phase
}

// Error says why an op failed or is unknown.
type Error struct {
	Code int    `json:"code"`           // Maelstrom error code, or -1 for a grader-side error
	Name string `json:"name"`           // e.g. "timeout", "net-timeout", "txn-conflict", "malformed-response"
	Text string `json:"text,omitempty"` // the node's text or the grader's explanation
}

// ErrorName is Maelstrom's name for one of its error codes, the name
// Error.Name carries for a node's error reply; ok is false for a code
// Maelstrom does not define.
func ErrorName(code int) (name string, ok bool) {
	name, ok = errorNames[code]
	return name, ok
}

// errorNames is read-only: the codes of Maelstrom's protocol.
var errorNames = map[int]string{
	0: "timeout", 1: "node-not-found", 10: "not-supported", 11: "temporarily-unavailable",
	12: "malformed-request", 13: "crash", 14: "abort", 20: "key-does-not-exist",
	21: "key-already-exists", 22: "precondition-failed", 30: "txn-conflict",
}

func (e *Error) String() string {
	if e == nil {
		return ""
	}
	if e.Text == "" {
		return e.Name
	}
	return e.Name + ": " + e.Text
}

// String renders an op for humans, e.g. `12.345s n3 p7 ok read [1 2 3]`.
func (o Op) String() string {
	return o.Format(func(v any) string { return fmt.Sprint(v) })
}

// Format renders an op as String does, with its value rendered by value:
// reports pass a JSON rendering, so that pointers inside values read as
// numbers rather than addresses.
func (o Op) Format(value func(any) string) string {
	s := fmt.Sprintf("%.3fs", o.Time.Seconds())
	if o.Node != "" {
		s += " " + o.Node
	}
	s += fmt.Sprintf(" p%d %s %s %s", o.Process, o.Type, o.F, value(o.Value))
	if o.Error != nil {
		s += " (" + o.Error.String() + ")"
	}
	return s
}

// History is a sequence of ops in observation order; Index equals position.
type History []Op

// Pair is an invocation and its completion (nil while the run was cut off
// before the op completed, which checkers treat like Info).
type Pair struct {
	Invoke     Op
	Completion *Op
}

// Pairs matches every invocation with its completion by process, in
// invocation order.
func (h History) Pairs() []Pair {
	open := map[int]int{} // process -> index into pairs
	var pairs []Pair
	for i := range h {
		op := h[i]
		if op.Type == Invoke {
			open[op.Process] = len(pairs)
			pairs = append(pairs, Pair{Invoke: op})
			continue
		}
		if j, ok := open[op.Process]; ok {
			c := op
			pairs[j].Completion = &c
			delete(open, op.Process)
		}
	}
	return pairs
}

// Outcome is the completion type of a pair; Info when it never completed.
func (p Pair) Outcome() Type {
	if p.Completion == nil {
		return Info
	}
	return p.Completion.Type
}

// KV is a lin-kv operation: read (Value filled on ok, nil means null),
// write (Value), or cas (From, To).
type KV struct {
	Key   int64  `json:"key"`
	Value *int64 `json:"value,omitempty"`
	From  *int64 `json:"from,omitempty"`
	To    *int64 `json:"to,omitempty"`
}

// KafkaSend is a send: on ok, Offset is where the message landed.
type KafkaSend struct {
	Key    string `json:"key"`
	Msg    int64  `json:"msg"`
	Offset *int64 `json:"offset,omitempty"`
}

// KafkaRecord is one polled message.
type KafkaRecord struct {
	Offset int64 `json:"offset"`
	Msg    int64 `json:"msg"`
}

// KafkaPoll is a poll; on ok, Msgs holds what came back per key. Offsets
// committed by the same op (the client commits what it polled) are Committed.
type KafkaPoll struct {
	Msgs      map[string][]KafkaRecord `json:"msgs,omitempty"`
	Committed map[string]int64         `json:"committed,omitempty"`
}

// KafkaAssign is an assign of keys to a client.
type KafkaAssign struct {
	Keys            []string `json:"keys"`
	SeekToBeginning bool     `json:"seek_to_beginning,omitempty"`
}

// MicroOp is one step of a transaction: F is "r", "w" or "append".
// Value: r -> nil on invoke, then nil | int64 (rw-register) | []int64
// (list-append) on ok; w and append -> int64.
type MicroOp struct {
	F     string `json:"f"`
	Key   int64  `json:"key"`
	Value any    `json:"value"`
}

// Txn is a transaction.
type Txn []MicroOp
