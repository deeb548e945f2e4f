package maelstrom

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// dfsNode is a file system for the dfs workload whose nodes share one
// in-memory namespace (possible in-process only): every file is one chunk
// "on" n3, n4 and n5. It is correct without faults unless fault names a
// way to break it:
//
//	lose     each node keeps its own files: a read elsewhere misses appends
//	rot      reads return the second record with one byte changed
//	reorder  reads return the first two records swapped
//
// and under kills its locate keeps listing dead servers.
func dfsNode(fault string) program.Program {
	type rec struct {
		ID   string `json:"id"`
		Data string `json:"data"`
	}
	type state struct {
		mu    sync.Mutex
		files map[string][]rec
	}
	shared := &state{files: map[string][]rec{}}
	return testnodes.Program(func() testnodes.Handlers {
		st := shared
		local := map[string][]rec{} // "lose": this node's records
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			str := func(k string) string {
				var s string
				_ = json.Unmarshal(m.Field(k), &s)
				return s
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			path := str("path")
			recs, exists := st.files[path]
			if !exists && (m.Type() == "append" || m.Type() == "read" || m.Type() == "delete") {
				n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no such file"})
				return nil
			}
			if fault == "lose" {
				recs = local[path]
			}
			switch m.Type() {
			case "create":
				if exists {
					n.Reply(m, map[string]any{"type": "error", "code": 21, "text": "exists"})
					return nil
				}
				st.files[path] = []rec{}
				n.Reply(m, map[string]any{"type": "create_ok"})
			case "delete":
				delete(st.files, path)
				n.Reply(m, map[string]any{"type": "delete_ok"})
			case "append":
				off := 0
				for _, r := range recs {
					off += 9 + len(r.ID) + len(r.Data)
				}
				if fault == "lose" { // distinct positions: the loss is what is wrong
					off += 1 << 20 * slices.Index(n.IDs, n.ID)
					local[path] = append(recs, rec{str("id"), str("data")})
				} else {
					st.files[path] = append(recs, rec{str("id"), str("data")})
				}
				n.Reply(m, map[string]any{"type": "append_ok", "chunk": 0, "offset": off})
			case "read":
				out := slices.Clone(recs)
				switch {
				case fault == "rot" && len(out) > 1:
					b := []byte(out[1].Data)
					b[0] ^= 1
					out[1].Data = string(b)
				case fault == "reorder" && len(out) > 1:
					out[0], out[1] = out[1], out[0]
				}
				if out == nil {
					out = []rec{}
				}
				n.Reply(m, map[string]any{"type": "read_ok", "records": out})
			case "list":
				paths := []string{}
				for p := range st.files {
					paths = append(paths, p)
				}
				slices.Sort(paths)
				n.Reply(m, map[string]any{"type": "list_ok", "paths": paths})
			case "locate":
				chunks := []map[string]any{}
				for p := range st.files {
					chunks = append(chunks, map[string]any{"path": p, "index": 0, "replicas": []string{"n3", "n4", "n5"}})
				}
				n.Reply(m, map[string]any{"type": "locate_ok", "chunks": chunks})
			default:
				n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "unsupported"})
			}
			return nil
		}}
	})
}

var dfsArgs = []string{"-w", "dfs", "--node-count", "6", "--time-limit", "10", "--rate", "30"}

func TestDFSValid(t *testing.T) {
	rep := grade(t, dfsNode(""), dfsArgs...)
	wantVerdict(t, rep, checker.Valid, "dfs-integrity", "dfs-repair")
	res, _ := rep.Result("dfs")
	if d := res.Details.(checker.DFSDetails); d.AckedAppends == 0 || d.Reads == 0 {
		t.Fatalf("nothing to judge: %+v", d)
	}
}

func TestDFSLostAppend(t *testing.T) {
	rep := grade(t, dfsNode("lose"), dfsArgs...)
	wantVerdict(t, rep, checker.Invalid, "lost append")
	wantViolation(t, rep, "dfs")
}

func TestDFSCorruptRecord(t *testing.T) {
	rep := grade(t, dfsNode("rot"), dfsArgs...)
	wantVerdict(t, rep, checker.Invalid, "corrupt record")
	wantViolation(t, rep, "dfs-integrity")
}

func TestDFSOutOfOrder(t *testing.T) {
	rep := grade(t, dfsNode("reorder"), dfsArgs...)
	wantVerdict(t, rep, checker.Invalid, "appends out of order")
}

// A locate that keeps counting dead chunk servers is caught once the
// faults have been quiet for the repair bound.
func TestDFSDeadReplicasCounted(t *testing.T) {
	rep := grade(t, dfsNode(""), "-w", "dfs", "--node-count", "6", "--time-limit", "20", "--rate", "30",
		"--nemesis", "kill", "--nemesis-interval", "3", "--repair-bound", "1", "--seed", "3")
	wantVerdict(t, rep, checker.Invalid, "chunk not re-replicated in time")
	wantViolation(t, rep, "dfs-repair")
}

// The corrupt fault rots chunk servers only: the dfs workload narrows its
// victims (workload.FaultTargeter) while kill still hits every node.
func TestDFSCorruptHitsChunkServersOnly(t *testing.T) {
	rep := grade(t, dfsNode(""), "-w", "dfs", "--node-count", "6", "--time-limit", "20", "--rate", "10",
		"--nemesis", "corrupt", "--nemesis-interval", "1")
	steps := 0
	for _, op := range rep.History {
		if op.Process != NemesisProcess || op.Type != history.Info || op.F != "corrupt" {
			continue
		}
		steps++
		for _, id := range op.Value.([]string) {
			if id == "n0" || id == "n1" || id == "n2" {
				t.Fatalf("corrupt hit master %s: %v", id, op)
			}
		}
	}
	if steps < 3 {
		t.Fatalf("only %d corrupt steps", steps)
	}
}

// wantViolation checks that the named checker found a violation that
// names its node, op, value and time.
func wantViolation(t *testing.T, rep *Report, name string) {
	t.Helper()
	res, ok := rep.Result(name)
	if !ok || res.Valid != checker.Invalid {
		t.Fatalf("%s: %+v", name, res)
	}
	v := res.First()
	if v.Node == "" || v.Op == nil || v.Value == nil || v.Time <= 0 {
		t.Fatalf("%s: violation without node, op, value or time: %+v", name, v)
	}
}
