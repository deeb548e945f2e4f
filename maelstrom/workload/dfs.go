package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// dfs (ours, the filesystem track): a GFS-style file system of
// append-only files. The first --masters nodes are its master replicas,
// the others its chunk servers; clients talk to every node:
//
//	{"type":"create","path":P}                  -> {"type":"create_ok"}
//	{"type":"delete","path":P}                  -> {"type":"delete_ok"}
//	{"type":"append","path":P,"id":I,"data":D}  -> {"type":"append_ok","chunk":C,"offset":O}
//	{"type":"read","path":P}                    -> {"type":"read_ok","records":[{"id":I,"data":D},...]}
//	{"type":"list","prefix":X}                  -> {"type":"list_ok","paths":[P,...]}
//	{"type":"locate"}                           -> {"type":"locate_ok","chunks":[{"path":P,"index":C,"replicas":[N,...]},...]}
//
// Paths are /f0, /f1, ...; a deleted path is never created again. An
// append is a record append: the file system picks the position, and
// append_ok names it (chunk index C of the file, byte offset O in that
// chunk). I is unique per append; D is 24 to 160 letters. read_ok lists
// the file's records in file order, each id once; list_ok the paths that
// start with X, sorted. locate_ok lists every chunk of every file with the
// chunk servers holding a healthy replica (a chunk still being created may
// be left out: it holds no data yet). Errors: 20 (no such file), 21
// (create of an existing file), 11 and 0 (retry).
//
// Checkers: dfs-integrity (every record read is one a writer sent, byte
// for byte), dfs (acknowledged appends readable, in their primary's
// order; namespace), dfs-repair (chunks back on enough live chunk servers
// within --repair-bound seconds of the last fault step). The corrupt
// nemesis hits chunk servers only (FaultTargets). History values:
// checker.DFSOp.
func init() {
	Register(func() Spec {
		return Spec{Name: "dfs", Description: "a GFS-style file system: create, record append, read, list, delete, locate (ours)",
			Final: true,
			Flags: []Flag{
				{Name: "masters", Default: "3", Usage: "how many of the first nodes are master replicas (the rest store chunks)"},
				{Name: "replicas", Default: "3", Usage: "copies of each chunk the checker demands after repair"},
				{Name: "repair-bound", Default: "5", Usage: "seconds after a fault step within which every chunk must be fully replicated again"},
			},
			New: newDFS,
		}
	})
}

const (
	dfsMinFiles = 3
	dfsMaxFiles = 6
)

type dfs struct {
	noSetup
	p   checker.DFSParams
	rng *rand.Rand

	mu       sync.Mutex
	files    []string // live paths, as the generator knows them
	nextFile int
	nextRec  int
}

func newDFS(p Params) (Instance, error) {
	m, err := p.FlagNumber("masters", 1, float64(len(p.NodeIDs)-1))
	if err != nil {
		return nil, err
	}
	r, err := p.FlagNumber("replicas", 1, 16)
	if err != nil {
		return nil, err
	}
	b, err := p.FlagNumber("repair-bound", 0.1, 600)
	if err != nil {
		return nil, err
	}
	return &dfs{rng: p.Rand, p: checker.DFSParams{ChunkServers: p.NodeIDs[int(m):], Replicas: int(r),
		Bound: time.Duration(b * float64(time.Second))}}, nil
}

// FaultTargets: the corrupt nemesis rots chunk servers' disks. The
// masters' operation log is on disk too, but a Raft replica that loses
// its log is another lesson; kills hit every node.
func (w *dfs) FaultTargets(fault string, nodes []string) []string {
	if fault == "corrupt" {
		return w.p.ChunkServers
	}
	return nodes
}

func (w *dfs) Next(_, _ int) Invocation { return w.next() }

func (w *dfs) next() Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rng
	if len(w.files) < dfsMinFiles {
		return w.create()
	}
	x := r.Float64()
	path := w.files[r.IntN(len(w.files))]
	switch {
	case x < 0.50:
		w.nextRec++
		n := 24 + r.IntN(137)
		data := make([]byte, n)
		for i := range data {
			data[i] = byte('a' + r.IntN(26))
		}
		return Invocation{F: "append", Value: checker.DFSOp{Path: path,
			Record: &checker.DFSRecord{ID: "r" + strconv.Itoa(w.nextRec), Data: string(data)}}}
	case x < 0.80:
	case x < 0.85:
		return Invocation{F: "list", Value: checker.DFSOp{Prefix: "/"}}
	case x < 0.95:
		return Invocation{F: "locate", Value: checker.DFSOp{}}
	case x < 0.99:
		if len(w.files) < dfsMaxFiles {
			return w.create()
		}
	case len(w.files) > dfsMinFiles:
		// Rare: files live long enough to fill many chunks.
		for i, f := range w.files {
			if f == path {
				w.files = append(w.files[:i], w.files[i+1:]...)
				break
			}
		}
		return Invocation{F: "delete", Value: checker.DFSOp{Path: path}}
	}
	return Invocation{F: "read", Value: checker.DFSOp{Path: path}}
}

func (w *dfs) create() Invocation {
	path := "/f" + strconv.Itoa(w.nextFile)
	w.nextFile++
	w.files = append(w.files, path)
	return Invocation{F: "create", Value: checker.DFSOp{Path: path}}
}

// Final: after the heal, every worker locates the chunks and reads every
// file it knows.
func (w *dfs) Final(int) []Invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []Invocation{{F: "locate", Value: checker.DFSOp{}}}
	for _, f := range w.files {
		out = append(out, Invocation{F: "read", Value: checker.DFSOp{Path: f}})
	}
	return append(out, Invocation{F: "list", Value: checker.DFSOp{Prefix: "/"}})
}

func (w *dfs) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	v, _ := inv.Value.(checker.DFSOp)
	var body map[string]any
	switch inv.F {
	case "create", "delete", "read":
		body = map[string]any{"type": inv.F, "path": v.Path}
	case "append":
		body = map[string]any{"type": "append", "path": v.Path, "id": v.Record.ID, "data": v.Record.Data}
	case "list":
		body = map[string]any{"type": "list", "prefix": v.Prefix}
	case "locate":
		body = map[string]any{"type": "locate"}
	default:
		return Completion{Type: history.Fail, Error: &history.Error{Code: -1, Name: "client-error", Text: "unknown dfs operation " + inv.F}}
	}
	raw, err := c.RPC(ctx, body)
	if err != nil {
		// Reads, lists and locates change nothing: a failure is definite.
		return Outcome(err, true, inv.F == "read" || inv.F == "list" || inv.F == "locate")
	}
	switch inv.F {
	case "create", "delete":
		if _, err := Decode(raw, inv.F+"_ok"); err != nil {
			return Outcome(err, true, false)
		}
	case "append":
		m, err := Decode(raw, "append_ok", Field{Name: "chunk"}, Field{Name: "offset"})
		if err != nil {
			return Outcome(err, true, false)
		}
		ch, err := decodeInt(m["chunk"], "chunk")
		if err != nil {
			return Outcome(err, true, false)
		}
		off, err := decodeInt(m["offset"], "offset")
		if err != nil {
			return Outcome(err, true, false)
		}
		if ch < 0 || off < 0 {
			return Outcome(&MalformedError{Reason: fmt.Sprintf("chunk %d and offset %d must not be negative", ch, off)}, true, false)
		}
		c := int(ch)
		v.Chunk, v.Offset = &c, &off
	case "read":
		m, err := Decode(raw, "read_ok", Field{Name: "records"})
		if err != nil {
			return Outcome(err, true, true)
		}
		if err := strictList(m["records"], &v.Records); err != nil {
			return Outcome(&MalformedError{Reason: "records must be a list of {id, data} objects: " + err.Error()}, true, true)
		}
		if v.Records == nil {
			v.Records = []checker.DFSRecord{}
		}
	case "list":
		m, err := Decode(raw, "list_ok", Field{Name: "paths"})
		if err != nil {
			return Outcome(err, true, true)
		}
		if err := strictList(m["paths"], &v.Paths); err != nil {
			return Outcome(&MalformedError{Reason: "paths must be a list of strings: " + err.Error()}, true, true)
		}
	case "locate":
		m, err := Decode(raw, "locate_ok", Field{Name: "chunks"})
		if err != nil {
			return Outcome(err, true, true)
		}
		if err := strictList(m["chunks"], &v.Chunks); err != nil {
			return Outcome(&MalformedError{Reason: "chunks must be a list of {path, index, replicas} objects: " + err.Error()}, true, true)
		}
	}
	return ok(v)
}

func strictList(raw json.RawMessage, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func (w *dfs) Check(h history.History) checker.Result { return checker.DFS(h)[1] }

// ExtraChecks: integrity and repair.
func (w *dfs) ExtraChecks(h history.History) []checker.Result {
	return []checker.Result{checker.DFS(h)[0], checker.DFSRepair(h, w.p)}
}
