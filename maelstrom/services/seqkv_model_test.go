package services

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

// TestSeqKVIsSequentiallyConsistent drives seq-kv with random operations
// from several nodes and checks every reply against the model the package
// promises: mutations form one total order of states (we keep them all);
// each node is answered from a state no older than the last it observed or
// wrote, and no older than the last SeqStates states; mutations take
// effect on the newest state, except those that change nothing in the
// state they were evaluated on.
func TestSeqKVIsSequentiallyConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		svc := NewSeqKV(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0)))
		states := []map[int]int{{}} // states[v] is the store after v mutations
		seen := map[string]int{}    // per node, the oldest state it may still be served
		for i := range rapid.IntRange(1, 200).Draw(t, "ops") {
			node := rapid.SampledFrom([]string{"n0", "n1", "n2"}).Draw(t, "node")
			key := rapid.IntRange(0, 2).Draw(t, "key")
			newest := len(states) - 1
			low := max(seen[node], newest-(SeqStates-1))
			body := map[string]any{"msg_id": i, "key": key}
			switch op := rapid.SampledFrom([]string{"read", "write", "cas"}).Draw(t, "op"); op {
			case "read":
				body["type"] = "read"
			case "write":
				body["type"], body["value"] = "write", rapid.IntRange(0, 3).Draw(t, "value")
			case "cas":
				body["type"] = "cas"
				body["from"], body["to"] = rapid.IntRange(0, 3).Draw(t, "from"), rapid.IntRange(0, 3).Draw(t, "to")
			}
			raw, _ := json.Marshal(body)
			out, ok := svc.Handle(node, raw)
			if !ok {
				t.Fatalf("no reply to %s", raw)
			}
			var r struct {
				Type  string `json:"type"`
				Value *int   `json:"value"`
				Code  int    `json:"code"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			// consistent reports whether the reply could come from state v.
			consistent := func(v int) bool {
				cur, found := states[v][key]
				switch {
				case r.Type == "read_ok":
					return found && r.Value != nil && cur == *r.Value
				case r.Type == "write_ok":
					// Writing the value a state already holds changes nothing.
					return found && cur == body["value"].(int)
				case r.Type == "cas_ok":
					return found && cur == body["from"].(int) && cur == body["to"].(int)
				case r.Code == CodeKeyDoesNotExist:
					return !found
				case r.Code == CodePreconditionFailed:
					return found && cur != body["from"].(int)
				}
				return false
			}
			appended := svc.newest != uint64(newest)
			switch {
			case appended && (r.Type == "write_ok" || r.Type == "cas_ok"):
				cur, found := states[newest][key]
				if r.Type == "cas_ok" && (!found || cur != body["from"].(int)) {
					t.Fatalf("%s: cas succeeded, newest state holds %d (%v)", raw, cur, found)
				}
				next := maps.Clone(states[newest])
				if r.Type == "write_ok" {
					next[key] = body["value"].(int)
				} else {
					next[key] = body["to"].(int)
				}
				states = append(states, next)
				seen[node] = len(states) - 1
			default:
				v := low
				for v <= newest && !consistent(v) {
					v++
				}
				if v > newest {
					t.Fatalf("%s by %s: reply %s fits no state in %d..%d", raw, node, out, low, newest)
				}
				// The earliest fitting state is the safest guess: any later
				// reply that fits a later state still fits after it.
				seen[node] = v
			}
		}
	})
}

func ExampleNew() {
	kv, _ := New("lin-kv", rand.New(rand.NewPCG(1, 2)))
	reply, _ := kv.Handle("n0", json.RawMessage(`{"type":"cas","msg_id":1,"key":"x","from":1,"to":2}`))
	fmt.Println(string(reply))
	// Output: {"type":"error","in_reply_to":1,"code":20,"text":"key does not exist"}
}
