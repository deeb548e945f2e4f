package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// eventstore (ours, the reactor track): an event store holding one stream
// per bank account, acct-0 ... acct-<accounts-1>.
//
//	{"type":"append","writes":[{"stream":S,"expected_version":V,"events":[E,...]},...]}
//	    -> {"type":"append_ok","versions":[V',...],"position":P}
//	{"type":"load","stream":S}
//	    -> {"type":"load_ok","version":V,"state":{"open":B,"balance":N}}
//	{"type":"read_stream","stream":S,"from":V,"max":N}
//	    -> {"type":"read_stream_ok","events":[R,...]}
//	{"type":"read_all","from":P,"max":N}
//	    -> {"type":"read_all_ok","events":[R,...]}
//	{"type":"as_of","stream":S,"version":V}  or  {"type":"as_of","stream":S,"time":T}
//	    -> {"type":"as_of_ok","version":V',"state":{"open":B,"balance":N}}
//	{"type":"read_model"}
//	    -> {"type":"read_model_ok","position":P,"balances":{S:N,...}}
//
// A stream's versions count its events from 1 (an empty stream is at
// version 0); global positions count every event of the store from 1. An
// append is all or nothing: each write's events go at versions
// expected_version+1, +2, ... of its stream, and if any stream is not at
// its expected version the whole append is refused with error 22
// (precondition-failed). append_ok gives each write's new version and the
// global position of the append's last event. An event E is
// {"id":ID,"type":T[,"amount":N][,"peer":S],"at":MS} with T one of opened,
// deposited, withdrawn, transfer_out, transfer_in; at is the client's
// clock (ms since the start of the run). A stored event R is
// {"stream":S,"version":V,"position":P,"event":E}.
//
// load answers an account's state (the fold of its stream) and version,
// from any replica, however stale: a stale load only costs a conflict.
// read_stream and read_all return at most max events (max is at most
// 1000) from the given version or position on; fewer than max means the
// node has no more. as_of
// answers the state as of a version of the stream, or as of a time: the
// longest prefix of the stream whose events all have at <= T; both must
// reflect every append acknowledged before the query. read_model answers
// the read model (the balances of every opened account) and the global
// position it reflects, however stale.
//
// Commands: a worker loads the account (and the peer of a transfer),
// decides as an application would (open a new account; deposit; withdraw
// or transfer more than half and at most all of the balance, so that two
// decisions on one balance overdraw together) and appends with the
// versions it loaded as the expected versions. A refused append is the
// optimistic concurrency doing its job. Other operations: read-model
// queries, as-of queries (a version acknowledged before, or a past time),
// stream reads and a catch-up subscription per worker (read_all from its
// checkpoint). The final phase reads the whole log from each node, then
// polls the node's read model until it reflects that log.
//
// History values: checker.ESAppend (f append), checker.ESRead (read_all,
// read_stream), checker.ESAsOf, checker.ESReadModel. The checkers:
// checker.EventStore and checker.Projection.
func init() {
	Register(func() Spec {
		return Spec{Name: "eventstore", Description: "an event store of bank accounts: expected versions, reads by stream and position, as-of queries, read models",
			Final: true, Reusable: true,
			Timeout: func(lat time.Duration) time.Duration { return max(10*lat, 2*time.Second) },
			Flags:   []Flag{{Name: "accounts", Default: "5", Usage: "how many account streams the workers share"}},
			New:     newEventStore}
	})
}

const (
	esSubscribeMax = 50
	esStreamMax    = 20
	esFinalPage    = 500
	esFinalPages   = 20
	// esModelWait bounds the final phase's polling of a read model.
	esModelWait = 5 * time.Second
	esModelGap  = 200 * time.Millisecond
)

func newEventStore(p Params) (Instance, error) {
	n, err := p.FlagNumber("accounts", 1, 1000)
	if err != nil {
		return nil, err
	}
	w := &eventStore{p: p, start: time.Now(), acked: map[string]int64{},
		attempts: map[int64]checker.ESAppend{}, dice: map[int64]float64{}, threads: map[int]*esThread{}}
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	for i := range int(n) {
		w.accounts = append(w.accounts, "acct-"+strconv.Itoa(i))
	}
	return w, nil
}

type eventStore struct {
	noSetup
	p        Params
	accounts []string
	start    time.Time

	mu       sync.Mutex
	nextOp   int64
	nextID   int64
	acked    map[string]int64 // highest acknowledged version per stream
	attempts map[int64]checker.ESAppend
	dice     map[int64]float64 // each command's draw for its amount
	threads  map[int]*esThread
}

type esThread struct {
	checkpoint int64 // the subscription's next position
	// Final phase.
	finalStart time.Time
	finalPos   int64
	logRead    bool  // the read of the whole log ended
	logEnd     int64 // the position it ended at
	modelDone  bool
}

func (w *eventStore) thread(t int) *esThread {
	th := w.threads[t]
	if th == nil {
		th = &esThread{checkpoint: 1, finalPos: 1}
		w.threads[t] = th
	}
	return th
}

func (w *eventStore) now() int64 { return time.Since(w.start).Milliseconds() }

func (w *eventStore) Next(thread, _ int) Invocation {
	r := w.p.Rand
	w.mu.Lock()
	defer w.mu.Unlock()
	acct := w.accounts[r.IntN(len(w.accounts))]
	switch k := r.IntN(100); {
	case k < 55:
		w.nextOp++
		cmd := checker.ESAppend{Op: w.nextOp, Account: acct}
		switch c := r.IntN(10); {
		case c < 3:
			cmd.Command = "deposit"
		case c < 7:
			cmd.Command = "withdraw"
		default:
			cmd.Command = "transfer"
			if len(w.accounts) > 1 {
				cmd.Peer = w.accounts[r.IntN(len(w.accounts))]
				for cmd.Peer == acct {
					cmd.Peer = w.accounts[r.IntN(len(w.accounts))]
				}
			} else {
				cmd.Command = "withdraw"
			}
		}
		w.dice[cmd.Op] = r.Float64()
		return Invocation{F: "append", Value: cmd}
	case k < 70:
		return Invocation{F: "read_model", Value: checker.ESReadModel{}}
	case k < 82:
		v := w.acked[acct]
		if r.IntN(2) == 0 {
			ver := r.Int64N(v + 1)
			return Invocation{F: "as_of", Value: checker.ESAsOf{Stream: acct, Version: &ver}}
		}
		t := r.Int64N(w.now() + 1)
		return Invocation{F: "as_of", Value: checker.ESAsOf{Stream: acct, Time: &t}}
	case k < 91:
		return Invocation{F: "read_all", Value: checker.ESRead{From: w.thread(thread).checkpoint, Max: esSubscribeMax}}
	default:
		return Invocation{F: "read_stream", Value: checker.ESRead{Stream: acct, From: 1 + r.Int64N(w.acked[acct]+1), Max: esStreamMax}}
	}
}

// FinalNext reads the node's whole log, then polls its read model until
// it reflects that log (or esModelWait passed).
func (w *eventStore) FinalNext(thread int) (Invocation, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	th := w.thread(thread)
	if th.finalStart.IsZero() {
		th.finalStart = time.Now()
	}
	if !th.logRead {
		if time.Since(th.finalStart) > 2*esModelWait {
			return Invocation{}, false
		}
		return Invocation{F: "read_all", Value: checker.ESRead{From: th.finalPos, Max: esFinalPage}}, true
	}
	if th.modelDone || time.Since(th.finalStart) > 3*esModelWait {
		return Invocation{}, false
	}
	return Invocation{F: "read_model", Value: checker.ESReadModel{}}, true
}

// Final is the final phase for runners that do not ask FinalNext: the
// first esFinalPages pages of the log, then the read model.
func (w *eventStore) Final(int) []Invocation {
	var out []Invocation
	for i := range esFinalPages {
		out = append(out, Invocation{F: "read_all", Value: checker.ESRead{From: 1 + int64(i*esFinalPage), Max: esFinalPage}})
	}
	return append(out, Invocation{F: "read_model", Value: checker.ESReadModel{}})
}

func (w *eventStore) Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion {
	switch v := inv.Value.(type) {
	case checker.ESAppend:
		return w.command(ctx, c, v)
	case checker.ESReadModel:
		return w.readModel(ctx, c, thread)
	case checker.ESAsOf:
		return w.asOf(ctx, c, v)
	case checker.ESRead:
		return w.read(ctx, c, thread, v)
	}
	return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown eventstore operation " + inv.F}}
}

var esStateFields = []Field{{Name: "version"}, {Name: "state"}}

func decodeESState(raw json.RawMessage, want string) (int64, checker.ESAccount, error) {
	m, err := Decode(raw, want, esStateFields...)
	if err != nil {
		return 0, checker.ESAccount{}, err
	}
	v, err := decodeInt(m["version"], "version")
	if err != nil {
		return 0, checker.ESAccount{}, err
	}
	var st checker.ESAccount
	if err := strictUnmarshal(m["state"], &st); err != nil {
		return 0, checker.ESAccount{}, &MalformedError{Reason: `state must be {"open":bool,"balance":int}: ` + err.Error()}
	}
	return v, st, nil
}

func strictUnmarshal(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (w *eventStore) load(ctx context.Context, c Caller, stream string) (checker.ESLoad, error) {
	raw, err := c.RPC(ctx, map[string]any{"type": "load", "stream": stream})
	if err != nil {
		return checker.ESLoad{}, err
	}
	v, st, err := decodeESState(raw, "load_ok")
	return checker.ESLoad{Stream: stream, Version: v, State: st}, err
}

// command loads, decides and appends. Loading changes nothing, so a failed
// load fails the command.
func (w *eventStore) command(ctx context.Context, c Caller, cmd checker.ESAppend) Completion {
	w.mu.Lock()
	u := w.dice[cmd.Op]
	delete(w.dice, cmd.Op)
	w.mu.Unlock()
	fail := func(err error, idempotent bool) Completion {
		comp := Outcome(err, true, idempotent)
		comp.Value = cmd
		return comp
	}
	src, err := w.load(ctx, c, cmd.Account)
	if err != nil {
		return fail(err, true)
	}
	cmd.Loads = append(cmd.Loads, src)
	amount := func(balance int64) int64 { return balance/2 + 1 + int64(u*float64(balance-balance/2)) }
	var writes []checker.ESWrite
	one := func(l checker.ESLoad, e checker.ESEvent) {
		writes = append(writes, checker.ESWrite{Stream: l.Stream, Expected: l.Version, Events: []checker.ESEvent{e}})
	}
	switch {
	case !src.State.Open:
		cmd.Command = "open"
		one(src, checker.ESEvent{Type: "opened"})
	case cmd.Command == "deposit" || src.State.Balance == 0:
		cmd.Command = "deposit"
		one(src, checker.ESEvent{Type: "deposited", Amount: 1 + int64(u*100)})
	case cmd.Command == "withdraw":
		one(src, checker.ESEvent{Type: "withdrawn", Amount: min(amount(src.State.Balance), src.State.Balance)})
	default:
		dst, err := w.load(ctx, c, cmd.Peer)
		if err != nil {
			return fail(err, true)
		}
		cmd.Loads = append(cmd.Loads, dst)
		if !dst.State.Open {
			cmd.Command = "open"
			one(dst, checker.ESEvent{Type: "opened"})
			break
		}
		a := min(amount(src.State.Balance), src.State.Balance)
		one(src, checker.ESEvent{Type: "transfer_out", Amount: a, Peer: dst.Stream})
		one(dst, checker.ESEvent{Type: "transfer_in", Amount: a, Peer: src.Stream})
	}
	w.mu.Lock()
	at := w.now()
	for i := range writes {
		for j := range writes[i].Events {
			w.nextID++
			writes[i].Events[j].ID = "e" + strconv.FormatInt(w.nextID, 10)
			writes[i].Events[j].At = at
		}
	}
	cmd.Writes = writes
	w.attempts[cmd.Op] = cmd
	w.mu.Unlock()

	raw, err := c.RPC(ctx, map[string]any{"type": "append", "writes": writes})
	if err != nil {
		return fail(err, false)
	}
	m, err := Decode(raw, "append_ok", Field{Name: "versions"}, Field{Name: "position"})
	if err != nil {
		return fail(err, false)
	}
	vs, err := decodeInts(m["versions"], "versions")
	if err == nil && len(vs) != len(writes) {
		err = &MalformedError{Reason: fmt.Sprintf("versions has %d entries for %d writes", len(vs), len(writes))}
	}
	if err != nil {
		return fail(err, false)
	}
	if cmd.Position, err = decodeInt(m["position"], "position"); err != nil {
		return fail(err, false)
	}
	cmd.Versions = vs
	w.mu.Lock()
	for i, wr := range writes {
		w.acked[wr.Stream] = max(w.acked[wr.Stream], vs[i])
	}
	w.mu.Unlock()
	return ok(cmd)
}

func (w *eventStore) readModel(ctx context.Context, c Caller, thread int) Completion {
	raw, err := c.RPC(ctx, map[string]any{"type": "read_model"})
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, "read_model_ok", Field{Name: "position"}, Field{Name: "balances"})
	}
	var rm checker.ESReadModel
	if err == nil {
		rm.Position, err = decodeInt(m["position"], "position")
	}
	if err == nil {
		if uerr := strictUnmarshal(m["balances"], &rm.Balances); uerr != nil {
			err = &MalformedError{Reason: "balances must map account names to integers: " + uerr.Error()}
		}
		if rm.Balances == nil {
			rm.Balances = map[string]int64{}
		}
	}
	if err != nil {
		return Outcome(err, true, true)
	}
	w.mu.Lock()
	if th := w.thread(thread); !th.finalStart.IsZero() {
		if th.logRead && rm.Position >= th.logEnd {
			th.modelDone = true
		} else {
			w.mu.Unlock()
			sleepFor(ctx, esModelGap)
			w.mu.Lock()
		}
	}
	w.mu.Unlock()
	return ok(rm)
}

func (w *eventStore) asOf(ctx context.Context, c Caller, q checker.ESAsOf) Completion {
	body := map[string]any{"type": "as_of", "stream": q.Stream}
	if q.Version != nil {
		body["version"] = *q.Version
	} else {
		body["time"] = *q.Time
	}
	raw, err := c.RPC(ctx, body)
	if err == nil {
		q.Got, q.State, err = decodeESState(raw, "as_of_ok")
	}
	if err != nil {
		return Outcome(err, true, true)
	}
	return ok(q)
}

func (w *eventStore) read(ctx context.Context, c Caller, thread int, r checker.ESRead) Completion {
	body := map[string]any{"type": "read_all", "from": r.From, "max": r.Max}
	want := "read_all_ok"
	if r.Stream != "" {
		body = map[string]any{"type": "read_stream", "stream": r.Stream, "from": r.From, "max": r.Max}
		want = "read_stream_ok"
	}
	raw, err := c.RPC(ctx, body)
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, want, Field{Name: "events"})
	}
	if err == nil {
		if uerr := strictUnmarshal(m["events"], &r.Events); uerr != nil {
			err = &MalformedError{Reason: `events must be a list of {"stream","version","position","event"} records: ` + uerr.Error()}
		} else if len(r.Events) > r.Max {
			err = &MalformedError{Reason: fmt.Sprintf("%d events for a read of at most %d", len(r.Events), r.Max)}
		}
	}
	if err != nil {
		return Outcome(err, true, true)
	}
	if r.Events == nil {
		r.Events = []checker.ESRecord{}
	}
	if r.Stream == "" {
		w.mu.Lock()
		th := w.thread(thread)
		if th.finalStart.IsZero() {
			th.checkpoint = r.From + int64(len(r.Events))
		} else {
			th.finalPos = r.From + int64(len(r.Events))
			if len(r.Events) < r.Max {
				th.logRead, th.logEnd = true, th.finalPos-1
			}
		}
		w.mu.Unlock()
	}
	return ok(r)
}

func (w *eventStore) Check(h history.History) checker.Result {
	w.mu.Lock()
	attempts := make(map[int64]checker.ESAppend, len(w.attempts))
	for k, v := range w.attempts {
		attempts[k] = v
	}
	w.mu.Unlock()
	return checker.EventStore(h, attempts)
}

func (w *eventStore) ExtraChecks(h history.History) []checker.Result {
	return []checker.Result{checker.Projection(h)}
}
