package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// watch (ours, the watcher track): a ZooKeeper/etcd-style coordination
// service. Keys are paths, values integers; every change gets the next
// revision of one global counter.
//
//	{"type":"put","key":"/kv/3","value":4[,"lease":L]}  -> {"type":"put_ok","rev":R}
//	{"type":"get","key":"/kv/3"}                       -> {"type":"get_ok","value":4|null,"version":V}
//	{"type":"cas","key":"/kv/3","from":4,"to":5}       -> {"type":"cas_ok","rev":R}   (errors 20, 22)
//	{"type":"lease_grant","ttl":1000}                  -> {"type":"lease_grant_ok","lease":L}
//	{"type":"lease_keepalive","lease":L}               -> {"type":"lease_keepalive_ok"}  (error 20: expired)
//	{"type":"watch","prefix":"/kv/","rev":R}           -> {"type":"watch_ok","events":[E...],"rev":T}
//	{"type":"watch_once","key":"/kv/3","rev":R}        -> {"type":"watch_once_ok","events":[E]|[],"rev":T}
//	{"type":"lock","name":"/locks/0","value":V}        -> {"type":"lock_ok","token":K}
//
// An event E is {"rev":R,"key":K,"type":"put"|"delete","value":V}. A watch
// answers with the changes at revisions >= rev under prefix, in order,
// and T, the revision through which it is complete (the next poll asks
// from T+1); a one-shot watch answers with the first change to key at a
// revision >= rev, if any by T. Keys put with a lease are ephemeral: they
// are deleted (delete events) when the lease expires, ttl milliseconds
// after its last keepalive.
//
// For lock, the node acquires the lock, then writes to the grader's
// fenced resource, the service "fenced", twice under the lock's token:
//
//	{"type":"fenced_write","token":K,"value":V,"step":"begin"|"end"} -> {"type":"fenced_write_ok"}
//
// The resource rejects (error 22) a token below the highest it accepted.
// The node then releases the lock and answers lock_ok with the token.
//
// Threads take roles by thread mod 4: 0 and 1 read, write and cas the
// registers /kv/<n> (1 takes locks instead with --locks); 2 watches
// (streams on "/kv/" or "/", and one-shot watches on a register); 3 runs
// sessions: grant a lease, put /eph/<lease> with it, keep it alive a few
// times, then stop and probe with get until the key is gone. History
// values: checker.WatchKV, checker.WatchPoll, checker.WatchSession,
// checker.WatchLock.
func init() {
	Register(func() Spec {
		return Spec{Name: "watch", Description: "a coordination service: revisions, watches, sessions with ephemeral keys, locks", Reusable: true,
			Timeout: watchTimeout,
			Flags: []Flag{
				{Name: "ttl", Default: "1000", Usage: "lease time-to-live in milliseconds"},
				{Name: "removal-bound", Default: "3000", Usage: "milliseconds past ttl within which an ephemeral key must be gone"},
				{Name: "locks", Default: "false", Usage: "true: thread role 1 takes locks on the fenced resource instead of writing registers"},
			},
			New: newWatch}
	})
}

// Generation constants: a register is retired after watchKeyOps ops (to
// keep the linearizability search small); a stream watch lasts
// watchStreamPolls polls, a one-shot at most watchOncePolls; a session
// sends watchKeepalives heartbeats before its client "dies".
const (
	watchKeyOps      = 60
	watchStreamPolls = 15
	watchOncePolls   = 10
	watchKeepalives  = 3
)

func watchTimeout(lat time.Duration) time.Duration { return max(10*lat, 2*time.Second) }

func newWatch(p Params) (Instance, error) {
	ttl, err1 := strconv.Atoi(p.Flags["ttl"])
	bound, err2 := strconv.Atoi(p.Flags["removal-bound"])
	locks, err3 := strconv.ParseBool(p.Flags["locks"])
	if err1 != nil || err2 != nil || err3 != nil || ttl <= 0 || bound < 0 {
		return nil, fmt.Errorf("watch: --ttl and --removal-bound must be milliseconds, --locks true or false")
	}
	w := &watch{p: p, ttl: time.Duration(ttl) * time.Millisecond, bound: time.Duration(bound) * time.Millisecond,
		locks: locks, timeout: watchTimeout(p.Latency), threads: map[int]*watchThread{}, start: time.Now()}
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

type watch struct {
	noSetup
	p          Params
	ttl, bound time.Duration
	timeout    time.Duration // the client RPC timeout
	locks      bool
	start      time.Time

	mu         sync.Mutex
	key        int64 // the register in use
	keyOps     int
	maxRev     int64
	nextStream int
	nextValue  int64
	threads    map[int]*watchThread
	fenced     []checker.FencedWrite
	fencedMax  int64
}

// watchThread is one worker's progress through its role.
type watchThread struct {
	// watcher
	poll  *checker.WatchPoll
	polls int
	once  bool // the next watch is a one-shot
	root  bool // the next stream watches "/"
	// session
	phase      string // grant, eph-put, keepalive, probe
	lease      int64
	key        string
	kas        int
	probeUntil time.Time
}

func (w *watch) thread(t int) *watchThread {
	th := w.threads[t]
	if th == nil {
		th = &watchThread{phase: "grant"}
		w.threads[t] = th
	}
	return th
}

func (w *watch) Next(thread, _ int) Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.p.Rand
	switch thread % 4 {
	case 2:
		return w.nextWatch(w.thread(thread))
	case 3:
		return w.nextSession(w.thread(thread))
	case 1:
		if w.locks {
			w.nextValue++
			return Invocation{F: "lock", Value: checker.WatchLock{Name: "/locks/0", Value: w.nextValue}}
		}
	}
	if w.keyOps >= watchKeyOps {
		w.key++
		w.keyOps = 0
	}
	w.keyOps++
	kv := checker.WatchKV{KV: history.KV{Key: w.key}}
	v := int64(r.IntN(5))
	switch n := r.IntN(4); {
	case n < 2:
		return Invocation{F: "read", Value: kv}
	case n == 2:
		kv.Value = &v
		return Invocation{F: "write", Value: kv}
	default:
		from := int64(r.IntN(5))
		kv.From, kv.To = &from, &v
		return Invocation{F: "cas", Value: kv}
	}
}

func (w *watch) nextWatch(th *watchThread) Invocation {
	if th.poll == nil {
		w.nextStream++
		p := &checker.WatchPoll{Stream: w.nextStream, Once: th.once}
		if th.once {
			p.Prefix = fmt.Sprintf("/kv/%d", w.key)
			p.From = max(1, w.maxRev+1-int64(w.p.Rand.IntN(3)))
		} else {
			p.Prefix = "/kv/"
			if th.root {
				p.Prefix = "/"
			}
			th.root = !th.root
			p.From = max(1, w.maxRev-int64(w.p.Rand.IntN(10)))
		}
		th.once = !th.once
		th.poll, th.polls = p, 0
	}
	th.polls++
	f := "watch"
	if th.poll.Once {
		f = "watch-once"
	}
	return Invocation{F: f, Value: checker.WatchPoll{Stream: th.poll.Stream, Prefix: th.poll.Prefix, Once: th.poll.Once, From: th.poll.From}}
}

func (w *watch) nextSession(th *watchThread) Invocation {
	if th.phase == "probe" && time.Now().After(th.probeUntil) {
		th.phase = "grant"
	}
	switch th.phase {
	case "grant":
		return Invocation{F: "grant", Value: checker.WatchSession{TTL: w.ttl}}
	case "eph-put":
		w.nextValue++
		return Invocation{F: "eph-put", Value: checker.WatchSession{Lease: th.lease, Key: th.key, Value: w.nextValue}}
	case "keepalive":
		return Invocation{F: "keepalive", Value: checker.WatchSession{Lease: th.lease, Key: th.key}}
	default:
		return Invocation{F: "probe", Value: checker.WatchSession{Lease: th.lease, Key: th.key}}
	}
}

// dead moves a session thread to probing: its client stops heartbeats.
func (w *watch) dead(th *watchThread) {
	th.phase = "probe"
	th.probeUntil = time.Now().Add(w.ttl + w.bound + w.timeout)
}

func (w *watch) sawRev(rev int64) {
	w.mu.Lock()
	w.maxRev = max(w.maxRev, rev)
	w.mu.Unlock()
}

func (w *watch) Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion {
	switch v := inv.Value.(type) {
	case checker.WatchKV:
		return w.invokeKV(ctx, c, inv.F, v)
	case checker.WatchPoll:
		return w.invokePoll(ctx, c, thread, v)
	case checker.WatchSession:
		return w.invokeSession(ctx, c, thread, inv.F, v)
	case checker.WatchLock:
		raw, err := c.RPC(ctx, map[string]any{"type": "lock", "name": v.Name, "value": v.Value})
		if err != nil {
			return Outcome(err, true, false)
		}
		m, err := Decode(raw, "lock_ok", Field{Name: "token"})
		if err != nil {
			return Outcome(err, true, false)
		}
		if v.Token, err = decodeInt(m["token"], "token"); err != nil {
			return Outcome(err, true, false)
		}
		return ok(v)
	}
	return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown op " + inv.F}}
}

func (w *watch) invokeKV(ctx context.Context, c Caller, f string, kv checker.WatchKV) Completion {
	key := fmt.Sprintf("/kv/%d", kv.Key)
	var body map[string]any
	switch f {
	case "read":
		body = map[string]any{"type": "get", "key": key}
	case "write":
		body = map[string]any{"type": "put", "key": key, "value": *kv.Value}
	default:
		body = map[string]any{"type": "cas", "key": key, "from": *kv.From, "to": *kv.To}
	}
	idem := f == "read"
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, idem)
	}
	if f == "read" {
		m, err := Decode(raw, "get_ok", Field{Name: "value"}, Field{Name: "version"})
		if err != nil {
			return Outcome(err, true, idem)
		}
		var v *int64
		if err := json.Unmarshal(m["value"], &v); err != nil {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("get value must be an integer or null, got %s", m["value"])}, true, idem)
		}
		kv.Value = v
		return ok(kv)
	}
	m, err := Decode(raw, f2reply(f), Field{Name: "rev"})
	if err != nil {
		return Outcome(err, true, idem)
	}
	if kv.Rev, err = decodeInt(m["rev"], "rev"); err != nil || kv.Rev <= 0 {
		return Outcome(&MalformedError{Reason: fmt.Sprintf("rev must be a positive integer, got %s", m["rev"])}, true, idem)
	}
	w.sawRev(kv.Rev)
	return ok(kv)
}

func f2reply(f string) string {
	if f == "write" {
		return "put_ok"
	}
	return f + "_ok"
}

func (w *watch) invokePoll(ctx context.Context, c Caller, thread int, p checker.WatchPoll) Completion {
	body := map[string]any{"type": "watch", "prefix": p.Prefix, "rev": p.From}
	want := "watch_ok"
	if p.Once {
		body = map[string]any{"type": "watch_once", "key": p.Prefix, "rev": p.From}
		want = "watch_once_ok"
	}
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, true)
	}
	m, err := Decode(raw, want, Field{Name: "events"}, Field{Name: "rev"})
	if err != nil {
		return Outcome(err, true, true)
	}
	if err := json.Unmarshal(m["events"], &p.Events); err != nil {
		return Outcome(&MalformedError{Reason: "events must be a list of {rev, key, type, value}: " + err.Error()}, true, true)
	}
	for _, ev := range p.Events {
		if ev.Rev <= 0 || ev.Key == "" || (ev.Type != "put" && ev.Type != "delete") {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("bad event %s", truncate(string(m["events"]), 200))}, true, true)
		}
	}
	if p.Through, err = decodeInt(m["rev"], "rev"); err != nil {
		return Outcome(err, true, true)
	}
	w.mu.Lock()
	th := w.thread(thread)
	if th.poll != nil && th.poll.Stream == p.Stream {
		last := p.Through
		for _, ev := range p.Events {
			last = max(last, ev.Rev)
		}
		th.poll.From = max(th.poll.From, last+1)
		if (p.Once && (len(p.Events) > 0 || th.polls >= watchOncePolls)) || (!p.Once && th.polls >= watchStreamPolls) {
			th.poll = nil
		}
	}
	w.mu.Unlock()
	return ok(p)
}

func (w *watch) invokeSession(ctx context.Context, c Caller, thread int, f string, s checker.WatchSession) Completion {
	var body map[string]any
	var want string
	var fields []Field
	switch f {
	case "grant":
		body, want, fields = map[string]any{"type": "lease_grant", "ttl": s.TTL.Milliseconds()}, "lease_grant_ok", []Field{{Name: "lease"}}
	case "eph-put":
		body, want, fields = map[string]any{"type": "put", "key": s.Key, "value": s.Value, "lease": s.Lease}, "put_ok", []Field{{Name: "rev"}}
	case "keepalive":
		body, want = map[string]any{"type": "lease_keepalive", "lease": s.Lease}, "lease_keepalive_ok"
	default:
		body, want, fields = map[string]any{"type": "get", "key": s.Key}, "get_ok", []Field{{Name: "value"}, {Name: "version"}}
	}
	idem := f == "probe"
	raw, err := c.RPC(ctx, body)
	var m map[string]json.RawMessage
	if err == nil {
		m, err = Decode(raw, want, fields...)
	}
	if err == nil {
		switch f {
		case "grant":
			s.Lease, err = decodeInt(m["lease"], "lease")
		case "eph-put":
			s.Rev, err = decodeInt(m["rev"], "rev")
		case "probe":
			s.Present = string(m["value"]) != "null"
		}
	}
	comp := ok(s)
	if err != nil {
		comp = Outcome(err, true, idem)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	th := w.thread(thread)
	switch f {
	case "grant":
		if err == nil {
			th.lease, th.key, th.kas, th.phase = s.Lease, fmt.Sprintf("/eph/%d", s.Lease), 0, "eph-put"
		}
	case "eph-put":
		switch comp.Type {
		case history.OK:
			w.maxRev = max(w.maxRev, s.Rev)
			th.phase = "keepalive"
		case history.Fail:
			th.phase = "grant"
		default:
			w.dead(th)
		}
	case "keepalive":
		if comp.Type == history.OK {
			th.kas++
		}
		if th.kas >= watchKeepalives || comp.Type == history.Fail {
			w.dead(th)
		}
	case "probe":
		if comp.Type == history.OK && !s.Present {
			th.phase = "grant"
		}
	}
	return comp
}

// Check judges the registers' reads and writes with porcupine, as lin-kv.
func (w *watch) Check(h history.History) checker.Result {
	var kv history.History
	for _, o := range h {
		if v, ok := o.Value.(checker.WatchKV); ok {
			o.Value = v.KV
			kv = append(kv, o)
		}
	}
	return checker.Linearizable(kv, linearizableBudget, w.p.OutDir)
}

// ExtraChecks judges the watches, the ephemeral keys and, with --locks,
// the fenced resource.
func (w *watch) ExtraChecks(h history.History) []checker.Result {
	out := []checker.Result{checker.Watch(h), checker.Ephemeral(h, w.ttl, w.bound, w.timeout)}
	if w.locks {
		w.mu.Lock()
		log := append([]checker.FencedWrite(nil), w.fenced...)
		w.mu.Unlock()
		out = append(out, checker.Fencing(h, log))
	}
	return out
}

// Services: with --locks, the fenced resource.
func (w *watch) Services() []string {
	if !w.locks {
		return nil
	}
	return []string{"fenced"}
}

// HandleService is the fenced resource: it accepts a write whose token is
// at least the highest it accepted, and rejects older holders.
func (w *watch) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req struct {
		Type  string `json:"type"`
		MsgID int64  `json:"msg_id"`
		Token *int64 `json:"token"`
		Value int64  `json:"value"`
		Step  string `json:"step"`
	}
	reply := func(v map[string]any) {
		v["in_reply_to"] = req.MsgID
		raw, _ := json.Marshal(v)
		send(src, raw)
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "fenced_write" || req.Token == nil || (req.Step != "begin" && req.Step != "end") {
		reply(map[string]any{"type": "error", "code": 12, "text": "want {type: fenced_write, token, value, step: begin|end}"})
		return
	}
	w.mu.Lock()
	fw := checker.FencedWrite{Time: time.Since(w.start), Src: src, Token: *req.Token, Value: req.Value, Step: req.Step,
		Accepted: *req.Token >= w.fencedMax}
	if fw.Accepted {
		w.fencedMax = *req.Token
	}
	w.fenced = append(w.fenced, fw)
	highest := w.fencedMax
	w.mu.Unlock()
	if !fw.Accepted {
		reply(map[string]any{"type": "error", "code": 22, "text": fmt.Sprintf("stale token %d: %d was accepted", *req.Token, highest)})
		return
	}
	reply(map[string]any{"type": "fenced_write_ok"})
}
