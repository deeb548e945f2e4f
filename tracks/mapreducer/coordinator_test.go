package mapreducer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
)

// cluster plays the network around one coordinator: the test sends what
// workers and clients would and reads the coordinator's answers.
type cluster struct {
	t    *testing.T
	c    *nodetest.Conn
	next int
}

func startCoordinator(t *testing.T, dir string) *cluster {
	c := nodetest.Start(t, node.Program(Configure), []string{"--lease", "300ms", "--backup-after", "100ms"},
		map[string]string{"MAELSTROM_DATA_DIR": dir})
	cl := &cluster{t: t, c: c}
	cl.rpc("c0", `{"type":"init","node_id":"n0","node_ids":["n0","n1","n2"]}`)
	return cl
}

// rpc sends body from src to n0 and returns the reply's body.
func (cl *cluster) rpc(src, body string) map[string]json.RawMessage {
	cl.t.Helper()
	cl.next++
	body = strings.Replace(body, "{", fmt.Sprintf(`{"msg_id":%d,`, cl.next), 1)
	cl.c.Send(src, "n0", body)
	for {
		line, err := cl.c.ReadLine()
		if err != nil {
			cl.t.Fatalf("no reply to %s: %v", body, err)
		}
		var m struct {
			Body map[string]json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			cl.t.Fatalf("bad line %q", line)
		}
		var irt int
		_ = json.Unmarshal(m.Body["in_reply_to"], &irt)
		if irt == cl.next {
			return m.Body
		}
	}
}

func (cl *cluster) task(worker string) *Task {
	cl.t.Helper()
	var r taskReply
	b, _ := json.Marshal(cl.rpc(worker, `{"type":"task_request"}`))
	if err := json.Unmarshal(b, &r); err != nil {
		cl.t.Fatal(err)
	}
	return r.Task
}

func want(t *testing.T, got *Task, kind string, index, attempt int) {
	t.Helper()
	if got == nil || got.Kind != kind || got.Index != index || got.Attempt != attempt {
		t.Fatalf("got task %+v, want %s %d attempt %d", got, kind, index, attempt)
	}
}

const job = `{"type":"submit","job":"j1","app":"wordcount","reducers":1,"splits":[{"name":"a","text":"x y"},{"name":"b","text":"y"}]}`

// The coordinator's fault handling, step by step: a backup attempt for a
// straggler, re-execution of a map whose output a reducer could not
// fetch, re-execution after a lease expires, and the finished job's
// output surviving a restart.
func TestCoordinatorLeasesBackupsReexecutionAndRestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		cl := startCoordinator(t, dir)
		if r := cl.rpc("c1", job); string(r["type"]) != `"submit_ok"` {
			t.Fatalf("submit: %v", r)
		}
		want(t, cl.task("n1"), "map", 0, 0)
		want(t, cl.task("n2"), "map", 1, 0)
		cl.rpc("n1", `{"type":"task_done","job":"j1","kind":"map","index":0,"attempt":0}`)
		if got := cl.task("n1"); got != nil {
			t.Fatalf("a backup before backup-after: %+v", got)
		}
		time.Sleep(150 * time.Millisecond) // n2 straggles
		want(t, cl.task("n1"), "map", 1, 1)
		if got := cl.task("n2"); got != nil {
			t.Fatalf("a third attempt while two run: %+v", got)
		}
		cl.rpc("n1", `{"type":"task_done","job":"j1","kind":"map","index":1,"attempt":1}`)
		red := cl.task("n2")
		want(t, red, "reduce", 0, 0)
		if red.Maps[1] != (Location{Worker: "n1", Attempt: 1}) {
			t.Fatalf("reduce reads map 1 from %+v, want the backup's output on n1", red.Maps[1])
		}
		// n1 died: its map outputs are gone.
		cl.rpc("n2", `{"type":"task_failed","job":"j1","kind":"reduce","index":0,"attempt":0,"lost":[0,1]}`)
		want(t, cl.task("n2"), "map", 0, 1)
		want(t, cl.task("n2"), "map", 1, 2)
		cl.rpc("n2", `{"type":"task_done","job":"j1","kind":"map","index":0,"attempt":1}`)
		time.Sleep(450 * time.Millisecond) // map 1's lease runs out, and the 100 ms expiry tick sees it
		want(t, cl.task("n2"), "map", 1, 3)
		cl.rpc("n2", `{"type":"task_done","job":"j1","kind":"map","index":1,"attempt":3}`)
		want(t, cl.task("n2"), "reduce", 0, 1)
		if r := cl.rpc("c1", `{"type":"status","job":"j1"}`); string(r["done"]) != "false" {
			t.Fatalf("done before the reduce: %v", r)
		}
		cl.rpc("n2", `{"type":"task_done","job":"j1","kind":"reduce","index":0,"attempt":1,"output":[["x","1"],["y","2"]]}`)
		if r := cl.rpc("c1", `{"type":"status","job":"j1"}`); string(r["output"]) != `[["x","1"],["y","2"]]` {
			t.Fatalf("status after the reduce: %v", r)
		}
		cl.c.Kill()

		cl = startCoordinator(t, dir)
		if r := cl.rpc("c1", `{"type":"status","job":"j1"}`); string(r["output"]) != `[["x","1"],["y","2"]]` {
			t.Fatalf("status after a restart: %v", r)
		}
		if r := cl.rpc("c1", `{"type":"status","job":"j2"}`); string(r["code"]) != "20" {
			t.Fatalf("unknown job: %v", r)
		}
		cl.c.Kill()
	})
}

// A job submitted but unfinished when the coordinator restarts is run
// again from its map tasks.
func TestUnfinishedJobRestartsFromItsMaps(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		cl := startCoordinator(t, dir)
		cl.rpc("c1", job)
		want(t, cl.task("n1"), "map", 0, 0)
		cl.rpc("n1", `{"type":"task_done","job":"j1","kind":"map","index":0,"attempt":0}`)
		cl.c.Kill()
		cl = startCoordinator(t, dir)
		if r := cl.rpc("c1", `{"type":"status","job":"j1"}`); string(r["done"]) != "false" {
			t.Fatalf("status after a restart: %v", r)
		}
		want(t, cl.task("n1"), "map", 0, 0)
		want(t, cl.task("n2"), "map", 1, 0)
		cl.c.Kill()
	})
}
