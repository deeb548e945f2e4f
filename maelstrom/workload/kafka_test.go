package workload

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// kafkaLog is an in-memory kafka node behind the Caller interface. With
// perPoll above zero a poll returns at most that many records per key;
// with lossy every fifth message is acknowledged but never stored.
type kafkaLog struct {
	logs      map[string][]int64
	committed map[string]int64
	perPoll   int
	lossy     bool
}

func newKafkaLog(perPoll int, lossy bool) *kafkaLog {
	return &kafkaLog{logs: map[string][]int64{}, committed: map[string]int64{}, perPoll: perPoll, lossy: lossy}
}

func (*kafkaLog) ID() string   { return "c1" }
func (*kafkaLog) Node() string { return "n0" }

func (l *kafkaLog) RPC(_ context.Context, body map[string]any) (json.RawMessage, error) {
	var out map[string]any
	switch body["type"] {
	case "send":
		k, msg := body["key"].(string), body["msg"].(int64)
		if l.lossy && msg%5 == 0 {
			out = map[string]any{"type": "send_ok", "offset": len(l.logs[k])}
			break
		}
		l.logs[k] = append(l.logs[k], msg)
		out = map[string]any{"type": "send_ok", "offset": len(l.logs[k]) - 1}
	case "poll":
		msgs := map[string][][2]int64{}
		for k, from := range body["offsets"].(map[string]int64) {
			for o := from; o < int64(len(l.logs[k])); o++ {
				if l.perPoll > 0 && len(msgs[k]) == l.perPoll {
					break
				}
				msgs[k] = append(msgs[k], [2]int64{o, l.logs[k][o]})
			}
		}
		out = map[string]any{"type": "poll_ok", "msgs": msgs}
	case "commit_offsets":
		for k, o := range body["offsets"].(map[string]int64) {
			l.committed[k] = max(l.committed[k], o)
		}
		out = map[string]any{"type": "commit_offsets_ok"}
	case "list_committed_offsets":
		offs := map[string]int64{}
		for _, k := range body["keys"].([]string) {
			if o, ok := l.committed[k]; ok {
				offs[k] = o
			}
		}
		out = map[string]any{"type": "list_committed_offsets_ok", "offsets": offs}
	}
	out["in_reply_to"] = 1
	return json.Marshal(out)
}

// kafkaRun drives a kafka instance as the runner does, one op at a time
// round-robin over the threads, 10 ms apart: ops main-phase ops, then each
// thread's final phase through FinalNext. It returns the history and the
// number of final polls.
func kafkaRun(t *testing.T, node *kafkaLog, p Params, ops int) (history.History, int) {
	t.Helper()
	spec, _ := Lookup("kafka")
	inst, err := spec.New(p)
	if err != nil {
		t.Fatal(err)
	}
	w := inst.(*kafka)
	var h history.History
	start := time.Now()
	procs := make([]int, p.Concurrency)
	for i := range procs {
		procs[i] = i
	}
	finalPolls := 0
	invoke := func(thread int, inv Invocation, final bool) {
		base := history.Op{Process: procs[thread], F: inv.F, Value: inv.Value, Final: final}
		op := base
		op.Type, op.Index, op.Time = history.Invoke, len(h), time.Since(start)
		h = append(h, op)
		c := w.Invoke(context.Background(), node, thread, inv)
		done := base
		done.Type, done.Error, done.Index, done.Time = c.Type, c.Error, len(h), time.Since(start)
		if c.Value != nil || c.Type == history.OK {
			done.Value = c.Value
		}
		h = append(h, done)
		if c.Type == history.Info {
			procs[thread] += p.Concurrency
			w.ResetClient(thread)
		}
		if final && inv.F == "poll" {
			finalPolls++
		}
	}
	for i := range ops {
		thread := i % p.Concurrency
		invoke(thread, w.Next(thread, procs[thread]), false)
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
	for thread := range p.Concurrency {
		for inv, more := w.FinalNext(thread); more; inv, more = w.FinalNext(thread) {
			invoke(thread, inv, true)
		}
	}
	return h, finalPolls
}

func kafkaParams(seed uint64, maxWrites int) Params {
	return Params{Concurrency: 2, KeyCount: 10, MaxWritesPerKey: maxWrites, Rand: rand.New(rand.NewPCG(seed, 1))}
}

func TestKafkaCorrectNodeIsValid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := kafkaRun(t, newKafkaLog(0, false), kafkaParams(1, 16), 2000)
		if res := checkKafka(h); res.Valid != checker.Valid {
			t.Fatalf("a correct log judged %s: %s", res.Valid, res.Summary)
		}
	})
}

func TestKafkaLostWriteCaught(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := kafkaRun(t, newKafkaLog(0, true), kafkaParams(1, 16), 2000)
		if res := checkKafka(h); res.Valid != checker.Invalid {
			t.Fatalf("a log that loses writes judged %s: %s", res.Valid, res.Summary)
		}
	})
}

// A node that hands out one record per key per poll needs more final polls
// than a fixed budget of 20 would give: the final phase must keep polling
// until it has caught up rather than report the rest as unseen.
func TestKafkaFinalPollsUntilCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, finalPolls := kafkaRun(t, newKafkaLog(1, false), kafkaParams(2, 40), 1500)
		res := checkKafka(h)
		if res.Valid != checker.Valid {
			t.Fatalf("a correct but slow-to-drain log judged %s: %s", res.Valid, res.Summary)
		}
		if finalPolls <= 2*20 {
			t.Fatalf("only %d final polls over 2 workers; the test needs a log longer than 20 polls can drain", finalPolls)
		}
		// Caught up, not timed out: each worker stopped before its 10 s bound.
		if finalPolls >= 2*int(kafkaFinalLimit/kafkaFinalPollGap) {
			t.Fatalf("%d final polls: the final phase ran to its bound instead of stopping once caught up", finalPolls)
		}
	})
}

func TestKafkaFinalPhaseIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newKafkaLog(0, true)
		start := time.Now()
		h, _ := kafkaRun(t, node, kafkaParams(3, 16), 500)
		mainEnd := start.Add(500*10*time.Millisecond + 10*time.Second)
		// Two workers, one after another, each at most 10 s plus a poll.
		if d := time.Since(mainEnd); d > 2*(kafkaFinalLimit+kafkaFinalPollGap) {
			t.Fatalf("final phase took %v for a log that never catches up", d)
		}
		if res := checkKafka(h); res.Valid != checker.Invalid {
			t.Fatalf("lossy log judged %s", res.Valid)
		}
	})
}

func TestKafkaCrashRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Params{Concurrency: 5, KeyCount: 10, MaxWritesPerKey: 16, Rand: rand.New(rand.NewPCG(4, 1))}
		spec, _ := Lookup("kafka")
		inst, _ := spec.New(p)
		crashes := 0
		// 300 s at 10 ops/s: about 300 / (30/5) = 50 crashes.
		for i := range 3000 {
			if inst.Next(i%5, i%5).F == "crash" {
				crashes++
			}
			time.Sleep(100 * time.Millisecond)
		}
		if crashes < 30 || crashes > 75 {
			t.Fatalf("%d crashes in 300 s with concurrency 5, want about 50", crashes)
		}
	})
}

func TestKafkaGeneratorKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec, _ := Lookup("kafka")
		inst, _ := spec.New(Params{Concurrency: 2, KeyCount: 10, MaxWritesPerKey: 4, Rand: rand.New(rand.NewPCG(5, 1))})
		w := inst.(*kafka)
		sent := map[string][]int64{}
		retiredAssigned, unpolledAssigned := false, false
		for range 20000 {
			inv := w.Next(0, 0)
			switch inv.F {
			case "send":
				s := inv.Value.(history.KafkaSend)
				sent[s.Key] = append(sent[s.Key], s.Msg)
				// acknowledge it, never poll it: every sent key is unpolled
				w.mu.Lock()
				raise(w.sentHi, s.Key, int64(len(sent[s.Key])-1))
				w.mu.Unlock()
			case "assign":
				keys := inv.Value.(history.KafkaAssign).Keys
				if len(keys) == 0 {
					t.Fatal("empty assign")
				}
				active := map[string]bool{}
				for _, k := range w.active {
					active[k] = true
				}
				recent := map[string]bool{}
				for _, k := range w.retired {
					recent[k] = true
				}
				for _, k := range keys {
					switch {
					case recent[k]:
						retiredAssigned = true
					case !active[k]:
						unpolledAssigned = true
					}
				}
			}
			if len(w.active) != 10 {
				t.Fatalf("%d active keys", len(w.active))
			}
		}
		for k, vs := range sent {
			for i, v := range vs {
				if v != int64(i+1) || i >= 4 {
					t.Fatalf("key %s got values %v; want 1, 2, 3, 4 at most", k, vs)
				}
			}
		}
		if len(sent) < 100 {
			t.Fatalf("only %d keys used; retired keys are not replaced", len(sent))
		}
		if !retiredAssigned || !unpolledAssigned {
			t.Fatalf("assigns never named a recently retired key (%v) or an older key with unpolled data (%v)", retiredAssigned, unpolledAssigned)
		}
		if _, err := strconv.Atoi(w.active[0]); err != nil {
			t.Fatalf("keys must be decimal strings: %q", w.active[0])
		}
	})
}
