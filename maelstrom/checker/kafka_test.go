package checker

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// randomKafkaHistory simulates clients of a correct log service, the way
// Maelstrom's kafka client drives one: sends append, polls return up to 3
// contiguous messages per assigned key from the client's position,
// assigns keep positions of keys that stay assigned, crashes replace the
// client, and a final phase rereads everything from the beginning.
func randomKafkaHistory(r *rand.Rand, clients, steps int) history.History {
	keys := []string{"1", "2", "3"}
	logs := map[string][]int64{}
	nextMsg := map[string]int64{}
	b := &builder{}
	type client struct {
		proc int
		pos  map[string]int64
	}
	cs := make([]*client, clients)
	nextProc := 0
	fresh := func() *client {
		c := &client{proc: nextProc, pos: map[string]int64{}}
		nextProc++
		return c
	}
	for i := range cs {
		cs[i] = fresh()
	}
	t := 0
	poll := func(c *client, node string) int {
		t++
		b.inv(c.proc, node, "poll", history.KafkaPoll{}, t)
		out := history.KafkaPoll{Msgs: map[string][]history.KafkaRecord{}}
		for _, k := range slices.Sorted(maps.Keys(c.pos)) {
			from := c.pos[k]
			for o := from; o < int64(len(logs[k])) && o < from+3; o++ {
				out.Msgs[k] = append(out.Msgs[k], history.KafkaRecord{Offset: o, Msg: logs[k][o]})
				c.pos[k] = o + 1
			}
		}
		t++
		b.ok(c.proc, node, "poll", out, t)
		n := 0
		for _, recs := range out.Msgs {
			n += len(recs)
		}
		return n
	}
	for range steps {
		ci := r.IntN(clients)
		c := cs[ci]
		node := []string{"n0", "n1"}[ci%2]
		t++
		switch x := r.IntN(20); {
		case x < 9:
			k := keys[r.IntN(len(keys))]
			nextMsg[k]++
			m := nextMsg[k]
			b.inv(c.proc, node, "send", history.KafkaSend{Key: k, Msg: m}, t)
			t++
			if r.IntN(10) == 0 {
				// Failed definitely: nothing appended.
				b.fail(c.proc, node, "send", nil, t)
				continue
			}
			logs[k] = append(logs[k], m)
			b.ok(c.proc, node, "send", history.KafkaSend{Key: k, Msg: m, Offset: i64(int64(len(logs[k]) - 1))}, t)
		case x < 17:
			poll(c, node)
		case x < 19:
			var as []string
			for _, k := range keys {
				if r.IntN(2) == 0 {
					as = append(as, k)
				}
			}
			b.inv(c.proc, node, "assign", history.KafkaAssign{Keys: as}, t)
			pos := map[string]int64{}
			for _, k := range as {
				// Kept keys keep their position; new ones start at 0
				// (this simulated service commits nothing).
				pos[k] = c.pos[k]
			}
			c.pos = pos
			t++
			b.ok(c.proc, node, "assign", history.KafkaAssign{Keys: as}, t)
		default:
			b.inv(c.proc, "", "crash", nil, t)
			b.info(c.proc, "", "crash", nil, t)
			cs[ci] = fresh()
		}
	}
	for ci, c := range cs {
		node := []string{"n0", "n1"}[ci%2]
		t++
		b.inv(c.proc, node, "assign", history.KafkaAssign{Keys: keys, SeekToBeginning: true}, t).final()
		c.pos = map[string]int64{}
		for _, k := range keys {
			c.pos[k] = 0
		}
		t++
		b.ok(c.proc, node, "assign", history.KafkaAssign{Keys: keys, SeekToBeginning: true}, t).final()
		// Poll until caught up, as the final phase does.
		for caughtUp := false; !caughtUp; {
			caughtUp = poll(c, node) == 0
		}
	}
	return b.h
}

func TestKafkaRandomValid(t *testing.T) {
	for seed := range uint64(50) {
		h := randomKafkaHistory(rand.New(rand.NewPCG(seed, 3)), 1+int(seed%4), 200)
		res := Kafka(h)
		mustEqual(t, Valid, res.Valid, "seed %d: %s", seed, res.Summary)
	}
}

// TestKafkaDroppedRecord removes one record from the middle of a
// non-final poll: depending on where it sat, the checker must report a
// skip inside that poll or between it and the process's next poll.
func TestKafkaDroppedRecord(t *testing.T) {
	caught := 0
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 4))
		h := randomKafkaHistory(r, 2, 300)
		var candidates []int
		for i, o := range h {
			if o.Type == history.OK && o.F == "poll" && !o.Final {
				for _, recs := range o.Value.(history.KafkaPoll).Msgs {
					if len(recs) == 3 {
						candidates = append(candidates, i)
						break
					}
				}
			}
		}
		if len(candidates) == 0 {
			continue
		}
		i := candidates[r.IntN(len(candidates))]
		old := h[i].Value.(history.KafkaPoll)
		msgs := maps.Clone(old.Msgs)
		for _, k := range slices.Sorted(maps.Keys(msgs)) {
			if len(msgs[k]) == 3 {
				msgs[k] = []history.KafkaRecord{msgs[k][0], msgs[k][2]}
				break
			}
		}
		h[i].Value = history.KafkaPoll{Msgs: msgs}
		res := Kafka(h)
		mustEqual(t, Invalid, res.Valid, "seed %d: %s", seed, res.Summary)
		d := res.Details.(KafkaDetails)
		mustEqual(t, []string{KafkaIntPollSkip}, d.ErrorTypes, "seed %d", seed)
		wantEqual(t, h[i].Time, res.First().Time, "seed %d", seed)
		caught++
	}
	if caught < 25 {
		t.Fatalf("only %d of 50 seeds produced a poll to corrupt; the generator no longer exercises this", caught)
	}
}

func BenchmarkKafka(b *testing.B) {
	h := randomKafkaHistory(rand.New(rand.NewPCG(9, 9)), 10, 50_000)
	for b.Loop() {
		if res := Kafka(h); res.Valid != Valid {
			b.Fatal(res.Summary)
		}
	}
	b.ReportMetric(float64(len(h)), "events")
}
