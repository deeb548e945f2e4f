package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func kafkaSpec() Spec {
	return Spec{Name: "kafka", Description: "a replicated log with per-key offsets and consumer commits", Final: true,
		New: func(p Params) (Instance, error) {
			if p.KeyCount <= 0 || p.MaxWritesPerKey <= 0 {
				return nil, fmt.Errorf("kafka needs positive key-count and max-writes-per-key")
			}
			w := &kafka{p: p, now: time.Now, sends: map[string]int64{}, known: map[string]bool{},
				clients: map[int]*kafkaClient{}, finals: map[int]*kafkaFinal{},
				sentHi: map[string]int64{}, seenHi: map[string]int64{}, polledHi: map[string]int64{}}
			for i := 0; i < p.KeyCount; i++ {
				w.active = append(w.active, strconv.Itoa(i))
			}
			w.nextKey = p.KeyCount
			return w, nil
		}}
}

// kafkaCrashInterval is how often, on average, each worker's client
// crashes: Maelstrom issues a crash every 30/concurrency seconds overall.
const kafkaCrashInterval = 30 * time.Second

// kafkaAssignOdds: one op in this many becomes an assign.
const kafkaAssignOdds = 64

// kafkaRecentKeys is how many retired keys stay candidates for assigns.
const kafkaRecentKeys = 10

// kafkaFinalPollGap and kafkaFinalLimit pace and bound each worker's final
// phase: after seeking to the beginning of every key it polls every
// kafkaFinalPollGap until its polls have reached the highest offset ever
// acknowledged or seen for each key, or kafkaFinalLimit has passed.
const (
	kafkaFinalPollGap = 200 * time.Millisecond
	kafkaFinalLimit   = 10 * time.Second
)

// kafka generates Jepsen's kafka workload in assign mode. Next runs on the
// generator goroutine; Invoke and FinalNext run on each worker's goroutine
// and share state under mu.
type kafka struct {
	p   Params
	now func() time.Time // the run's clock (virtual under synctest)

	// Generator state, touched only by Next.
	active    []string
	retired   []string         // recently retired keys, newest last
	sends     map[string]int64 // values sent per key: 1, 2, 3, ...
	nextKey   int
	nextCrash time.Time

	mu       sync.Mutex
	known    map[string]bool // keys anything was sent to
	clients  map[int]*kafkaClient
	finals   map[int]*kafkaFinal
	sentHi   map[string]int64 // highest offset acknowledged by a send
	seenHi   map[string]int64 // highest offset acknowledged or polled
	polledHi map[string]int64 // highest offset any poll returned
}

// kafkaClient is one consumer: the next offset to poll per assigned key.
// final marks the final phase's seek-to-beginning assignment.
type kafkaClient struct {
	offsets map[string]int64
	final   bool
}

// kafkaFinal is one worker's progress through the final phase.
type kafkaFinal struct {
	deadline time.Time
	crashed  bool
}

func (w *kafka) client(thread int) *kafkaClient {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clientLocked(thread)
}

func (w *kafka) clientLocked(thread int) *kafkaClient {
	c := w.clients[thread]
	if c == nil {
		c = &kafkaClient{offsets: map[string]int64{}}
		w.clients[thread] = c
	}
	return c
}

// ResetClient forgets a replaced client's assignment.
func (w *kafka) ResetClient(thread int) {
	w.mu.Lock()
	delete(w.clients, thread)
	w.mu.Unlock()
}

func (w *kafka) Setup(context.Context, string, Caller) error { return nil }

// crashGap draws the time to the next crash op: uniform over 0..2x the
// mean gap of kafkaCrashInterval/concurrency, as Jepsen's stagger does.
func (w *kafka) crashGap() time.Duration {
	mean := kafkaCrashInterval / time.Duration(max(w.p.Concurrency, 1))
	return time.Duration(w.p.Rand.Float64() * float64(2*mean))
}

func (w *kafka) Next(int, int) Invocation {
	r := w.p.Rand
	now := w.now()
	if w.nextCrash.IsZero() {
		w.nextCrash = now.Add(w.crashGap())
	}
	if !now.Before(w.nextCrash) {
		w.nextCrash = now.Add(w.crashGap())
		return Invocation{F: "crash"}
	}
	if r.IntN(kafkaAssignOdds) == 0 {
		return Invocation{F: "assign", Value: history.KafkaAssign{Keys: w.assignKeys()}}
	}
	if r.IntN(2) == 0 {
		return Invocation{F: "poll", Value: history.KafkaPoll{}}
	}
	i := min(int(r.ExpFloat64()*float64(len(w.active))/3), len(w.active)-1)
	k := w.active[i]
	w.sends[k]++
	w.mu.Lock()
	w.known[k] = true
	w.mu.Unlock()
	v := w.sends[k]
	if v >= int64(w.p.MaxWritesPerKey) {
		w.retired = append(w.retired, k)
		if len(w.retired) > kafkaRecentKeys {
			w.retired = w.retired[1:]
		}
		w.active[i] = strconv.Itoa(w.nextKey)
		w.nextKey++
	}
	return Invocation{F: "send", Value: history.KafkaSend{Key: k, Msg: v}}
}

// assignKeys picks a non-empty random subset of recently used keys (the
// active ones and the last retired ones); a third of the time it adds
// every key with acknowledged data no poll has returned yet.
func (w *kafka) assignKeys() []string {
	r := w.p.Rand
	set := map[string]bool{}
	for _, k := range append(append([]string{}, w.active...), w.retired...) {
		if r.IntN(2) == 0 {
			set[k] = true
		}
	}
	if len(set) == 0 {
		set[w.active[r.IntN(len(w.active))]] = true
	}
	if r.IntN(3) == 0 {
		w.mu.Lock()
		for k, hi := range w.sentHi {
			if p, ok := w.polledHi[k]; !ok || p < hi {
				set[k] = true
			}
		}
		w.mu.Unlock()
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (w *kafka) knownKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.knownKeysLocked()
}

func (w *kafka) knownKeysLocked() []string {
	keys := make([]string, 0, len(w.known))
	for k := range w.known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func finalPoll() Invocation {
	return Invocation{F: "poll", Value: history.KafkaPoll{Committed: map[string]int64{}}}
}

// Final is the fixed final phase, for runners that do not ask FinalNext:
// crash, seek to the beginning of every known key, then polls for up to
// kafkaFinalLimit.
func (w *kafka) Final(int) []Invocation {
	out := []Invocation{{F: "crash"}, {F: "assign", Value: history.KafkaAssign{Keys: w.knownKeys(), SeekToBeginning: true}}}
	for range int(kafkaFinalLimit / kafkaFinalPollGap) {
		out = append(out, finalPoll())
	}
	return out
}

// FinalNext returns a worker's next final-phase operation, or false when
// it is done: first a crash (a fresh client), then an assign of every key
// anything was sent to with seek-to-beginning, then polls every
// kafkaFinalPollGap until the client has polled past the highest offset
// acknowledged or seen for each of those keys, for at most
// kafkaFinalLimit. A client replaced meanwhile (an indefinite poll) is
// assigned again.
func (w *kafka) FinalNext(thread int) (Invocation, bool) {
	now := w.now()
	w.mu.Lock()
	st := w.finals[thread]
	if st == nil {
		st = &kafkaFinal{deadline: now.Add(kafkaFinalLimit)}
		w.finals[thread] = st
	}
	if !st.crashed {
		st.crashed = true
		w.mu.Unlock()
		return Invocation{F: "crash"}, true
	}
	if !now.Before(st.deadline) {
		w.mu.Unlock()
		return Invocation{}, false
	}
	cl := w.clientLocked(thread)
	if !cl.final {
		keys := w.knownKeysLocked()
		w.mu.Unlock()
		return Invocation{F: "assign", Value: history.KafkaAssign{Keys: keys, SeekToBeginning: true}}, true
	}
	caught := w.caughtUpLocked(cl)
	w.mu.Unlock()
	if caught {
		return Invocation{}, false
	}
	return finalPoll(), true
}

// caughtUpLocked says whether a client's next offsets are past the highest
// offset acknowledged or seen for every key known to have been sent.
func (w *kafka) caughtUpLocked(cl *kafkaClient) bool {
	for k := range w.known {
		hi, ok := w.seenHi[k]
		if !ok {
			continue
		}
		if next, assigned := cl.offsets[k]; !assigned || next <= hi {
			return false
		}
	}
	return true
}

func (w *kafka) Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion {
	cl := w.client(thread)
	switch inv.F {
	case "crash":
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "crash", Text: "the client crashed on purpose"}}
	case "send":
		s := inv.Value.(history.KafkaSend)
		raw, err := c.RPC(ctx, map[string]any{"type": "send", "key": s.Key, "msg": s.Msg})
		if err != nil {
			return Outcome(err, true, false)
		}
		m, err := Decode(raw, "send_ok", Field{Name: "offset"})
		if err != nil {
			return Outcome(err, true, false)
		}
		off, err := decodeInt(m["offset"], "offset")
		if err != nil {
			return Outcome(err, true, false)
		}
		w.mu.Lock()
		raise(w.sentHi, s.Key, off)
		raise(w.seenHi, s.Key, off)
		w.mu.Unlock()
		s.Offset = &off
		return ok(s)
	case "assign":
		return w.assign(ctx, c, cl, inv.Value.(history.KafkaAssign))
	}
	if inv.Value.(history.KafkaPoll).Committed != nil { // a final poll: give replication time
		t := time.NewTimer(kafkaFinalPollGap)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return w.poll(ctx, c, cl)
}

func raise(m map[string]int64, k string, v int64) {
	if old, ok := m[k]; !ok || v > old {
		m[k] = v
	}
}

func (w *kafka) assign(ctx context.Context, c Caller, cl *kafkaClient, a history.KafkaAssign) Completion {
	next := map[string]int64{}
	if a.SeekToBeginning {
		for _, k := range a.Keys {
			next[k] = 0
		}
	} else {
		raw, err := c.RPC(ctx, map[string]any{"type": "list_committed_offsets", "keys": a.Keys})
		if err != nil {
			return Outcome(err, true, true)
		}
		m, err := Decode(raw, "list_committed_offsets_ok", Field{Name: "offsets"})
		if err != nil {
			return Outcome(err, true, true)
		}
		var committed map[string]int64
		if err := json.Unmarshal(m["offsets"], &committed); err != nil {
			return Outcome(&MalformedError{Reason: "offsets must map keys to integer offsets"}, true, true)
		}
		w.mu.Lock()
		for _, k := range a.Keys {
			if off, ok := cl.offsets[k]; ok {
				next[k] = off
			} else {
				next[k] = committed[k]
			}
		}
		w.mu.Unlock()
	}
	w.mu.Lock()
	cl.offsets = next
	cl.final = a.SeekToBeginning
	w.mu.Unlock()
	return ok(a)
}

func (w *kafka) poll(ctx context.Context, c Caller, cl *kafkaClient) Completion {
	req := map[string]int64{}
	w.mu.Lock()
	for k, v := range cl.offsets {
		req[k] = v
	}
	w.mu.Unlock()
	raw, err := c.RPC(ctx, map[string]any{"type": "poll", "offsets": req})
	if err != nil {
		return Outcome(err, true, false)
	}
	m, err := Decode(raw, "poll_ok", Field{Name: "msgs"})
	if err != nil {
		return Outcome(err, true, false)
	}
	var wire map[string][][2]int64
	if err := json.Unmarshal(m["msgs"], &wire); err != nil {
		return Outcome(&MalformedError{Reason: "msgs must map keys to lists of [offset, msg] pairs"}, true, false)
	}
	res := history.KafkaPoll{Msgs: map[string][]history.KafkaRecord{}}
	commit := map[string]int64{}
	w.mu.Lock()
	for k, recs := range wire {
		if len(recs) == 0 {
			continue
		}
		hi := int64(-1)
		for _, r := range recs {
			res.Msgs[k] = append(res.Msgs[k], history.KafkaRecord{Offset: r[0], Msg: r[1]})
			hi = max(hi, r[0])
		}
		if _, assigned := cl.offsets[k]; assigned {
			cl.offsets[k] = max(cl.offsets[k], hi+1)
		}
		raise(w.seenHi, k, hi)
		raise(w.polledHi, k, hi)
		commit[k] = hi
	}
	w.mu.Unlock()
	if len(commit) > 0 {
		raw, err := c.RPC(ctx, map[string]any{"type": "commit_offsets", "offsets": commit})
		if err == nil {
			_, err = Decode(raw, "commit_offsets_ok")
		}
		if err == nil {
			res.Committed = commit
		}
	}
	return ok(res)
}

func (w *kafka) Check(h history.History) checker.Result { return checkKafka(h) }
