package report

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// sampleRun builds a plausible lin-kv run: clients talk to nodes, nodes
// talk to the lin-kv service and gossip among themselves, a partition cuts
// n0 off between 40% and 60% of the run (its messages to the others are
// dropped), some cas operations fail with an error reply, and the checker
// blames one read. About six messages per operation.
func sampleRun(ops int) Input {
	rng := rand.New(rand.NewPCG(7, 11))
	nodes := []string{"n0", "n1", "n2"}
	clients := []string{"c2", "c10", "c11", "c3"} // out of order on purpose
	dur := time.Duration(ops)*25*time.Millisecond + 200*time.Millisecond
	part := Interval{Start: dur * 4 / 10, End: dur * 6 / 10, Label: `partition {"n0":["n1","n2"],"n1":["n0"],"n2":["n0"]}`}
	cut := func(a, b string, t time.Duration) bool {
		if t < part.Start || t >= part.End {
			return false
		}
		return (a == "n0") != (b == "n0") && a[0] == 'n' && b[0] == 'n'
	}
	in := Input{
		Title:    "lin-kv sample",
		Workload: "lin-kv",
		Nodes:    nodes,
		Clients:  clients,
		Faults:   []Interval{part},
		Duration: dur,
	}
	var id, msgID int64
	send := func(src, dest string, at, lat time.Duration, body map[string]any) {
		msgID++
		body["msg_id"] = msgID
		bs, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		m := Message{ID: id, Src: src, Dest: dest, Body: bs, Sent: at, Received: at + lat}
		if cut(src, dest, at) {
			m.Dropped, m.Received = true, 0
		}
		in.Messages = append(in.Messages, m)
		id++
	}
	var blamed *history.Op
	for i := range ops {
		ci := i % len(clients)
		c := clients[ci]
		n := nodes[rng.IntN(len(nodes))]
		t := time.Duration(i)*25*time.Millisecond + time.Duration(rng.IntN(5000))*time.Microsecond
		key := int64(rng.IntN(3))
		var f string
		var val history.KV
		val.Key = key
		body := map[string]any{"key": key}
		switch rng.IntN(3) {
		case 0:
			f = "read"
			body["type"] = "read"
		case 1:
			f = "write"
			v := int64(rng.IntN(5))
			val.Value = &v
			body["type"], body["value"] = "write", v
		default:
			f = "cas"
			from, to := int64(rng.IntN(5)), int64(rng.IntN(5))
			val.From, val.To = &from, &to
			body["type"], body["from"], body["to"] = "cas", from, to
		}
		inv := history.Op{Index: len(in.History), Type: history.Invoke, Process: ci, F: f, Value: val, Time: t, Node: n, Client: c}
		in.History = append(in.History, inv)
		// Service latency varies per operation, as a real store's does.
		slow := time.Duration(1 + min(rng.ExpFloat64()*2, 15))
		us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond * slow }
		send(c, n, t+100*time.Microsecond, 300*time.Microsecond, body)
		send(n, "lin-kv", t+500*time.Microsecond, us(1000), map[string]any{"type": body["type"], "key": key})
		failed := f == "cas" && rng.IntN(3) == 0
		if failed {
			send("lin-kv", n, t+us(1500), us(1000), map[string]any{"type": "error", "code": 22, "text": "expected 3 but had 4"})
			send(n, c, t+us(2600), 300*time.Microsecond, map[string]any{"type": "error", "code": 22, "text": "cas failed: expected 3 but had 4"})
		} else {
			send("lin-kv", n, t+us(1500), us(1000), map[string]any{"type": f + "_ok", "value": rng.IntN(5)})
			send(n, c, t+us(2600), 300*time.Microsecond, map[string]any{"type": f + "_ok"})
		}
		for _, o := range nodes {
			if o != n && f != "read" {
				send(n, o, t+us(2700), time.Duration(1+rng.IntN(4))*time.Millisecond, map[string]any{"type": "gossip", "key": key})
			}
		}
		comp := inv
		comp.Index = len(in.History)
		comp.Time = t + us(3000)
		comp.Type = history.OK
		if failed {
			comp.Type = history.Fail
			comp.Error = &history.Error{Code: 22, Name: "precondition-failed", Text: "expected 3 but had 4"}
		} else if rng.IntN(40) == 0 {
			comp.Type = history.Info
			comp.Time = t + time.Duration(50+rng.IntN(200))*time.Millisecond
			comp.Error = &history.Error{Code: 0, Name: "timeout"}
		}
		in.History = append(in.History, comp)
		if blamed == nil && f == "read" && comp.Type == history.OK && t > part.Start {
			c := comp
			blamed = &c
		}
	}
	in.Results = []checker.Result{{Checker: "stats", Valid: checker.Valid, Summary: fmt.Sprintf("%d operations", ops)}}
	if blamed != nil {
		in.Results = append(in.Results, checker.Result{
			Checker: "linearizable",
			Valid:   checker.Invalid,
			Summary: "no linearization of key 1 exists",
			Violations: []checker.Violation{{
				What:   "stale read",
				Node:   blamed.Node,
				Op:     blamed,
				Value:  int64(3),
				Time:   blamed.Time,
				Detail: "The read returned 3, but a write of 4 had completed before the read began; a linearizable store must return the latest completed write.",
			}},
		})
	}
	in.Verdict = verdict(in)
	return in
}

// TestWriteSample writes sample reports into $REPORT_SAMPLE_DIR for the
// browser check (scripts/check-report-render.sh); without it, it only
// checks that they render.
func TestWriteSample(t *testing.T) {
	samples := map[string]Input{"sample.html": sampleRun(120)}
	dir := os.Getenv("REPORT_SAMPLE_DIR")
	if dir == "" {
		dir = t.TempDir() // TestDefaultCap covers the large run
	} else {
		samples["large.html"] = sampleRun(2000)
	}
	for name, in := range samples {
		path := filepath.Join(dir, name)
		if err := WriteFile(path, in); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d messages, %d bytes", path, len(in.Messages), st.Size())
	}
}
