package maelstrom

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// End-to-end checks that the grader catches the classic bugs, each with a
// deliberately broken node run in-process under virtual time.

// cachingLinKV proxies lin-kv requests to the lin-kv service but answers
// reads from its own cache of what it last wrote or read, so a node that
// did not see another node's write keeps serving the old value.
func cachingLinKV() program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		cache := map[string]json.RawMessage{}
		waiting := map[int64]testnodes.Msg{}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "lin-kv" {
				req, ok := waiting[m.Int("in_reply_to")]
				if !ok {
					return nil
				}
				delete(waiting, m.Int("in_reply_to"))
				key := string(req.Body["key"])
				body := map[string]any{}
				for k, v := range m.Body {
					if k != "in_reply_to" && k != "msg_id" {
						body[k] = v
					}
				}
				switch {
				case m.Type() == "read_ok":
					cache[key] = m.Body["value"]
				case m.Type() == "write_ok":
					cache[key] = req.Body["value"]
				case m.Type() == "cas_ok":
					cache[key] = req.Body["to"]
				}
				n.Reply(req, body)
				return nil
			}
			if v, ok := cache[string(m.Body["key"])]; ok && m.Type() == "read" {
				n.Reply(m, map[string]any{"type": "read_ok", "value": v}) // the stale read
				return nil
			}
			body := map[string]any{}
			for k, v := range m.Body {
				if k != "msg_id" {
					body[k] = v
				}
			}
			waiting[n.RPC("lin-kv", body)] = m
			return nil
		}}
	})
}

func TestStaleReadLinKVCaughtWithHTML(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "lin-kv", "--node-count", "3", "--concurrency", "2n", "--time-limit", "10",
		"--rate", "50", "--latency", "5", "--key-count", "3", "--seed", "4"})
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = t.TempDir()
	var rep *Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = Run(context.Background(), opts, InProcess{Program: cachingLinKV()})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, rep, checker.Invalid, "first problem (linearizable): not linearizable")
	pages, _ := filepath.Glob(filepath.Join(rep.StorePath, "linear-key-*.html"))
	if len(pages) == 0 {
		entries, _ := os.ReadDir(rep.StorePath)
		t.Fatalf("no linear-key-*.html in the run folder; it holds %v", entries)
	}
	page, err := os.ReadFile(pages[0])
	if err != nil || !bytes.Contains(page, []byte("<html")) {
		t.Fatalf("%s is not an HTML page: %v", pages[0], err)
	}
}

func TestLostWriteKafkaCaught(t *testing.T) {
	rep := grade(t, testnodes.KafkaSingle(true), "-w", "kafka", "--node-count", "1", "--concurrency", "2n",
		"--time-limit", "10", "--rate", "100")
	wantVerdict(t, rep, checker.Invalid, "first problem (kafka)")
	res, _ := rep.Result("kafka")
	found := false
	for _, v := range res.Violations {
		found = found || v.What == checker.KafkaLostWrite
	}
	if !found {
		t.Fatalf("kafka checker did not report a lost write: %s", res.Summary)
	}
}

// writeCycleTxn is a single-node txn-list-append store that applies the
// appends of every other transaction to odd keys only after the next
// transaction: for two consecutive transactions appending to an even key x
// and an odd key y, x shows T1 before T2 and y shows T2 before T1, a write
// cycle (G0) that no serial order explains.
func writeCycleTxn() program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		lists := map[int64][]int64{}
		var held [][2]int64 // (key, value) appends deferred from the previous transaction
		count := 0
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			var ops [][]any
			d := json.NewDecoder(bytes.NewReader(m.Body["txn"]))
			d.UseNumber()
			_ = d.Decode(&ops)
			count++
			late := count%2 == 1
			var mine [][2]int64
			for _, op := range ops {
				k, _ := op[1].(json.Number).Int64()
				switch op[0] {
				case "r":
					op[2] = append([]int64{}, lists[k]...)
				case "append":
					v, _ := op[2].(json.Number).Int64()
					if late && k%2 == 1 {
						mine = append(mine, [2]int64{k, v})
						continue
					}
					lists[k] = append(lists[k], v)
				}
			}
			for _, a := range held {
				lists[a[0]] = append(lists[a[0]], a[1])
			}
			held = mine
			n.Reply(m, map[string]any{"type": "txn_ok", "txn": ops})
			return nil
		}}
	})
}

func TestWriteCycleTxnCaughtAsG0(t *testing.T) {
	rep := grade(t, writeCycleTxn(), "-w", "txn-list-append", "--node-count", "1", "--time-limit", "10",
		"--rate", "50", "--key-count", "4", "--consistency-models", "serializable")
	wantVerdict(t, rep, checker.Invalid, "first problem (txn)")
	res, _ := rep.Result("txn")
	if !strings.Contains(res.Summary, "G0") {
		t.Fatalf("txn checker did not report G0: %s", res.Summary)
	}
}
