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
			w := &kafka{p: p, sends: map[string]int64{}, known: map[string]bool{}, clients: map[int]*kafkaClient{}}
			for i := 0; i < p.KeyCount; i++ {
				w.active = append(w.active, strconv.Itoa(i))
			}
			w.nextKey = p.KeyCount
			return w, nil
		}}
}

// kafkaCrashOdds: one op in this many is a client crash, standing in for
// Maelstrom's one crash per worker per ~30 s at its usual rates.
const kafkaCrashOdds = 100

// kafkaFinalPolls is how many polls, 200 ms apart, each worker makes in
// the final phase after seeking to the beginning of every key.
const kafkaFinalPolls = 20

// kafka generates Jepsen's kafka workload in assign mode. Next and Final
// run on the generator goroutine; Invoke touches only its thread's client.
type kafka struct {
	p       Params
	active  []string
	sends   map[string]int64 // values sent per key: 1, 2, 3, ...
	known   map[string]bool
	nextKey int

	mu      sync.Mutex
	clients map[int]*kafkaClient
}

// kafkaClient is one consumer: the next offset to poll per assigned key.
type kafkaClient struct{ offsets map[string]int64 }

func (w *kafka) client(thread int) *kafkaClient {
	w.mu.Lock()
	defer w.mu.Unlock()
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

func (w *kafka) Next(int, int) Invocation {
	r := w.p.Rand
	switch {
	case r.IntN(kafkaCrashOdds) == 0:
		return Invocation{F: "crash"}
	case r.IntN(64) == 0:
		var keys []string
		for _, k := range w.active {
			if r.IntN(2) == 0 {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			keys = []string{w.active[0]}
		}
		return Invocation{F: "assign", Value: history.KafkaAssign{Keys: keys}}
	case r.IntN(2) == 0:
		return Invocation{F: "poll", Value: history.KafkaPoll{}}
	}
	i := min(int(r.ExpFloat64()*float64(len(w.active))/3), len(w.active)-1)
	k := w.active[i]
	w.sends[k]++
	w.known[k] = true
	v := w.sends[k]
	if v >= int64(w.p.MaxWritesPerKey) {
		w.active[i] = strconv.Itoa(w.nextKey)
		w.nextKey++
	}
	return Invocation{F: "send", Value: history.KafkaSend{Key: k, Msg: v}}
}

func (w *kafka) Final(int) []Invocation {
	keys := make([]string, 0, len(w.known))
	for k := range w.known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []Invocation{{F: "crash"}, {F: "assign", Value: history.KafkaAssign{Keys: keys, SeekToBeginning: true}}}
	for range kafkaFinalPolls {
		out = append(out, Invocation{F: "poll", Value: history.KafkaPoll{Committed: map[string]int64{}}})
	}
	return out
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
		s.Offset = &off
		return ok(s)
	case "assign":
		return w.assign(ctx, c, cl, inv.Value.(history.KafkaAssign))
	}
	if inv.Value.(history.KafkaPoll).Committed != nil { // a final poll: give replication time
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return w.poll(ctx, c, cl)
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
		for _, k := range a.Keys {
			if off, ok := cl.offsets[k]; ok {
				next[k] = off
			} else {
				next[k] = committed[k]
			}
		}
	}
	cl.offsets = next
	return ok(a)
}

func (w *kafka) poll(ctx context.Context, c Caller, cl *kafkaClient) Completion {
	req := map[string]int64{}
	for k, v := range cl.offsets {
		req[k] = v
	}
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
		commit[k] = hi
	}
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
