package mapreducer

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/wal"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer/mr"
)

// Job is a submitted job, as the workload sends it.
type Job struct {
	ID       string     `json:"job"`
	App      string     `json:"app"`
	Pattern  string     `json:"pattern,omitempty"`
	Reducers int        `json:"reducers"`
	Splits   []SplitMsg `json:"splits"`
}

// SplitMsg is a split on the wire.
type SplitMsg struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// Task is one attempt of a map or reduce task, as the coordinator hands it
// to a worker. A map task carries its split; a reduce task carries where
// each map task's output waits (Maps[i] for map task i).
type Task struct {
	Job      string     `json:"job"`
	App      string     `json:"app"`
	Pattern  string     `json:"pattern,omitempty"`
	Reducers int        `json:"reducers"`
	Kind     string     `json:"kind"` // "map" or "reduce"
	Index    int        `json:"index"`
	Attempt  int        `json:"attempt"`
	Split    *SplitMsg  `json:"split,omitempty"`
	Maps     []Location `json:"maps,omitempty"`
}

// Location is where a finished map attempt's output is kept.
type Location struct {
	Worker  string `json:"worker"`
	Attempt int    `json:"attempt"`
}

const (
	taskIdle = iota
	taskRunning
	taskDone
)

type attempt struct {
	worker  string
	started time.Time
}

type taskState struct {
	state    int
	idle     time.Time       // when it last became idle (maps wait LocalityWait for a holder of their split)
	next     int             // next attempt number
	running  map[int]attempt // attempts in progress
	where    Location        // map: the attempt whose output counts
	output   [][2]string     // reduce
	launched int             // attempts ever handed out
}

type jobState struct {
	job     Job
	maps    []*taskState
	reduces []*taskState
	done    bool
	output  [][2]string
}

// logRecord is one entry of the coordinator's write-ahead log.
type logRecord struct {
	Submit *Job        `json:"submit,omitempty"`
	Done   string      `json:"done,omitempty"`
	Output [][2]string `json:"output,omitempty"`
}

// coordinator owns the jobs. Its durable state is the log of submitted
// and finished jobs; task states are rebuilt from scratch after a
// restart, so an unfinished job is re-run from its map tasks.
type coordinator struct {
	n *node.Node
	o Options

	mu    sync.Mutex
	jobs  map[string]*jobState
	order []string // unfinished jobs, oldest first
	// recent are the last jobs finished, told to workers with every
	// task_request answer so that they drop those jobs' map output.
	recent []string
	log    *wal.Log
}

func newCoordinator(n *node.Node, o Options) *coordinator {
	c := &coordinator{n: n, o: o, jobs: map[string]*jobState{}}
	n.OnInit(c.open)
	context.AfterFunc(n.Context(), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.log != nil {
			_ = c.log.Close()
			c.log = nil
		}
	})
	node.HandleTyped(n, "submit", c.submit)
	node.HandleTyped(n, "status", c.status)
	node.HandleTyped(n, "task_request", c.taskRequest)
	node.HandleTyped(n, "task_done", c.taskDone)
	node.HandleTyped(n, "task_failed", c.taskFailed)
	n.Every(100*time.Millisecond, func(context.Context) { c.expire() })
	return c
}

// coordinatorID is the coordinator of a cluster: the first node.
func coordinatorID(n *node.Node) string { return n.NodeIDs()[0] }

func (c *coordinator) isCoordinator() bool { return c.n.ID() == coordinatorID(c.n) }

func (c *coordinator) single() bool { return len(c.n.NodeIDs()) == 1 }

func (c *coordinator) open() error {
	if !c.isCoordinator() || c.n.DataDir() == "" || !c.o.Durable {
		return nil
	}
	log, err := wal.Open(c.n.Storage(), filepath.Join(c.n.DataDir(), "coordinator"), wal.Options{Sync: wal.SyncEvery})
	if err != nil {
		return fmt.Errorf("mapreducer: open the coordinator's log: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := log.Iterate(log.FirstIndex(), func(_ uint64, b []byte) error {
		var rec logRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if rec.Submit != nil {
			c.addLocked(*rec.Submit)
		} else if js := c.jobs[rec.Done]; js != nil {
			c.finishLocked(js, rec.Output)
		}
		return nil
	}); err != nil {
		_ = log.Close()
		return fmt.Errorf("mapreducer: replay the coordinator's log: %w", err)
	}
	c.log = log
	c.o.Counters.Recovered.Add(int64(len(c.jobs)))
	for _, id := range c.order {
		c.startLocal(c.jobs[id].job)
	}
	return nil
}

func (c *coordinator) appendLocked(rec logRecord) error {
	if c.log == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = c.log.Append(b)
	return err
}

func (c *coordinator) addLocked(j Job) *jobState {
	js := &jobState{job: j}
	now := c.n.Clock().Now()
	for range j.Splits {
		js.maps = append(js.maps, &taskState{running: map[int]attempt{}, idle: now})
	}
	for range j.Reducers {
		js.reduces = append(js.reduces, &taskState{running: map[int]attempt{}})
	}
	c.jobs[j.ID] = js
	c.order = append(c.order, j.ID)
	return js
}

func (c *coordinator) finishLocked(js *jobState, out [][2]string) {
	js.done, js.output = true, out
	if js.output == nil {
		js.output = [][2]string{}
	}
	js.maps, js.reduces = nil, nil
	c.recent = append(c.recent, js.job.ID)
	if len(c.recent) > 32 {
		c.recent = c.recent[1:]
	}
	for i, id := range c.order {
		if id == js.job.ID {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// forward relays a client request to the coordinator when this node is a
// worker.
func (c *coordinator) forward(msg node.Message) (any, error) {
	ctx, cancel := context.WithTimeout(c.n.Context(), 800*time.Millisecond)
	defer cancel()
	reply, err := c.n.SyncRPC(ctx, coordinatorID(c.n), json.RawMessage(msg.Body))
	if err != nil {
		if node.ErrorCode(err) >= 0 {
			return nil, err
		}
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "the coordinator did not answer: "+err.Error())
	}
	var body map[string]any
	if err := json.Unmarshal(reply.Body, &body); err != nil {
		return nil, err
	}
	delete(body, "msg_id")
	delete(body, "in_reply_to")
	return body, nil
}

func (c *coordinator) submit(msg node.Message, j Job) (any, error) {
	if !c.isCoordinator() {
		return c.forward(msg)
	}
	if j.ID == "" || j.Reducers < 1 || len(j.Splits) == 0 {
		return nil, node.NewRPCError(node.MalformedRequest, "submit needs a job id, reducers >= 1 and at least one split")
	}
	if _, err := mr.AppFor(j.App, j.Pattern); err != nil {
		return nil, node.NewRPCError(node.MalformedRequest, err.Error())
	}
	c.mu.Lock()
	_, known := c.jobs[j.ID]
	c.mu.Unlock()
	if known {
		return map[string]any{"type": "submit_ok"}, nil
	}
	if c.o.Input != nil && !c.single() {
		// The input goes where it lives; the job keeps only the names.
		ctx, cancel := context.WithTimeout(c.n.Context(), 800*time.Millisecond)
		err := c.o.Input.Store(ctx, j.ID, j.Splits)
		cancel()
		if err != nil {
			return nil, node.NewRPCError(node.TemporarilyUnavailable, "storing the input: "+err.Error())
		}
		splits := make([]SplitMsg, len(j.Splits))
		for i, s := range j.Splits {
			splits[i] = SplitMsg{Name: s.Name}
		}
		j.Splits = splits
	}
	c.mu.Lock()
	if _, ok := c.jobs[j.ID]; ok {
		c.mu.Unlock()
		return map[string]any{"type": "submit_ok"}, nil
	}
	if err := c.appendLocked(logRecord{Submit: &j}); err != nil {
		c.mu.Unlock()
		return nil, node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	c.addLocked(j)
	c.mu.Unlock()
	c.startLocal(j)
	return map[string]any{"type": "submit_ok"}, nil
}

// startLocal runs a job with the local engine when there are no workers.
func (c *coordinator) startLocal(j Job) {
	if !c.single() {
		return
	}
	go func() {
		app, _ := mr.AppFor(j.App, j.Pattern)
		splits := make([]mr.Split, len(j.Splits))
		for i, s := range j.Splits {
			splits[i] = mr.Split{Name: s.Name, Data: []byte(s.Text)}
		}
		kvs, err := mr.Run(c.n.Context(), app, splits, mr.Config{Mappers: c.o.Mappers, Reducers: j.Reducers})
		if err != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if js := c.jobs[j.ID]; js != nil && !js.done {
			_ = c.completeLocked(js, pairs(kvs))
		}
	}()
}

func pairs(kvs []mr.KeyValue) [][2]string {
	out := make([][2]string, len(kvs))
	for i, kv := range kvs {
		out[i] = [2]string{kv.Key, kv.Value}
	}
	return out
}

func (c *coordinator) completeLocked(js *jobState, out [][2]string) error {
	if err := c.appendLocked(logRecord{Done: js.job.ID, Output: out}); err != nil {
		return err
	}
	c.finishLocked(js, out)
	k := c.o.Counters
	k.Jobs.Add(1)
	c.n.Logger().Info("job done", "job", js.job.ID, "pairs", len(out), "jobs", k.Jobs.Load(),
		"reexecuted", k.Reexecuted.Load(), "lost-maps", k.LostMaps.Load(), "backups", k.Backups.Load(),
		"maps", k.Maps.Load(), "local-maps", k.LocalMaps.Load())
	return nil
}

func (c *coordinator) status(msg node.Message, req struct {
	Job string `json:"job"`
}) (any, error) {
	if !c.isCoordinator() {
		return c.forward(msg)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	js := c.jobs[req.Job]
	if js == nil {
		return nil, node.NewRPCError(node.KeyDoesNotExist, "unknown job "+req.Job)
	}
	if !js.done {
		return map[string]any{"type": "status_ok", "done": false}, nil
	}
	return map[string]any{"type": "status_ok", "done": true, "output": js.output}, nil
}

// taskRequest hands the asking worker an idle task of the oldest job that
// has one (maps before reduces: a job's reduce tasks wait for all its
// maps), else a backup attempt of a straggling task, else nothing.
func (c *coordinator) taskRequest(msg node.Message, _ struct{}) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.n.Clock().Now()
	for _, id := range c.order {
		js := c.jobs[id]
		if t := c.pickLocked(js, msg.Src, now, func(ts *taskState) bool { return ts.state == taskIdle }); t != nil {
			return map[string]any{"type": "task_request_ok", "task": t, "finished": c.recent}, nil
		}
	}
	if c.o.BackupAfter > 0 {
		for _, id := range c.order {
			js := c.jobs[id]
			straggling := func(ts *taskState) bool {
				if ts.state != taskRunning || len(ts.running) != 1 {
					return false
				}
				for _, a := range ts.running {
					return a.worker != msg.Src && now.Sub(a.started) >= c.o.BackupAfter
				}
				return false
			}
			if t := c.pickLocked(js, msg.Src, now, straggling); t != nil {
				c.o.Counters.Backups.Add(1)
				return map[string]any{"type": "task_request_ok", "task": t, "finished": c.recent}, nil
			}
		}
	}
	return map[string]any{"type": "task_request_ok", "task": nil, "finished": c.recent}, nil
}

func (c *coordinator) pickLocked(js *jobState, worker string, now time.Time, want func(*taskState) bool) *Task {
	mapsDone := true
	far := -1 // a map task this worker may run without holding its split
	for i, ts := range js.maps {
		if ts.state != taskDone {
			mapsDone = false
		}
		if !want(ts) {
			continue
		}
		s := js.job.Splits[i]
		if c.o.Input == nil || slices.Contains(c.o.Input.Holders(js.job.ID, s.Name), worker) {
			return c.launchLocked(js, ts, "map", i, worker, now, &s, nil)
		}
		if far < 0 && now.Sub(ts.idle) >= c.o.LocalityWait {
			far = i
		}
	}
	if far >= 0 {
		s := js.job.Splits[far]
		return c.launchLocked(js, js.maps[far], "map", far, worker, now, &s, nil)
	}
	if !mapsDone {
		return nil
	}
	for i, ts := range js.reduces {
		if want(ts) {
			locs := make([]Location, len(js.maps))
			for m, mt := range js.maps {
				locs[m] = mt.where
			}
			return c.launchLocked(js, ts, "reduce", i, worker, now, nil, locs)
		}
	}
	return nil
}

func (c *coordinator) launchLocked(js *jobState, ts *taskState, kind string, i int, worker string, now time.Time, s *SplitMsg, locs []Location) *Task {
	a := ts.next
	ts.next++
	ts.launched++
	ts.state = taskRunning
	ts.running[a] = attempt{worker: worker, started: now}
	j := js.job
	return &Task{Job: j.ID, App: j.App, Pattern: j.Pattern, Reducers: j.Reducers, Kind: kind, Index: i, Attempt: a, Split: s, Maps: locs}
}

type taskReport struct {
	Job     string      `json:"job"`
	Kind    string      `json:"kind"`
	Index   int         `json:"index"`
	Attempt int         `json:"attempt"`
	Output  [][2]string `json:"output"`
	Lost    []int       `json:"lost"`
	Local   bool        `json:"local"` // a map run where its split was (with Input)
}

func (c *coordinator) task(r taskReport) *taskState {
	js := c.jobs[r.Job]
	if js == nil || js.done {
		return nil
	}
	list := js.maps
	if r.Kind == "reduce" {
		list = js.reduces
	}
	if r.Index < 0 || r.Index >= len(list) {
		return nil
	}
	return list[r.Index]
}

// taskDone records the first attempt of a task to finish; later ones (a
// backup, or an attempt whose lease had expired) are ignored, which is
// safe because tasks are deterministic.
func (c *coordinator) taskDone(msg node.Message, r taskReport) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.task(r)
	if ts != nil && ts.state != taskDone {
		ts.state, ts.running = taskDone, map[int]attempt{}
		if r.Kind == "map" {
			ts.where = Location{Worker: msg.Src, Attempt: r.Attempt}
			c.o.Counters.Maps.Add(1)
			if r.Local {
				c.o.Counters.LocalMaps.Add(1)
			}
		} else {
			ts.output = r.Output
			js := c.jobs[r.Job]
			if c.allDone(js.reduces) {
				var out [][2]string
				for _, rt := range js.reduces {
					out = append(out, rt.output...)
				}
				if err := c.completeLocked(js, out); err != nil {
					return nil, node.NewRPCError(node.Crash, "log: "+err.Error())
				}
			}
		}
	}
	return map[string]any{"type": "task_done_ok"}, nil
}

func (c *coordinator) allDone(ts []*taskState) bool {
	for _, t := range ts {
		if t.state != taskDone {
			return false
		}
	}
	return true
}

// taskFailed: a reducer could not fetch the output of the map tasks in
// Lost (their worker is dead, paused or restarted), so those maps run
// again, and the reduce attempt is given up.
func (c *coordinator) taskFailed(_ node.Message, r taskReport) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.task(r)
	if ts == nil {
		return map[string]any{"type": "task_failed_ok"}, nil
	}
	js := c.jobs[r.Job]
	for _, m := range r.Lost {
		if m >= 0 && m < len(js.maps) && js.maps[m].state == taskDone {
			js.maps[m].state, js.maps[m].idle = taskIdle, c.n.Clock().Now()
			c.o.Counters.LostMaps.Add(1)
		}
	}
	delete(ts.running, r.Attempt)
	if ts.state == taskRunning && len(ts.running) == 0 {
		ts.state, ts.idle = taskIdle, c.n.Clock().Now()
	}
	return map[string]any{"type": "task_failed_ok"}, nil
}

// expire takes back the attempts whose lease ran out: their task goes
// back to idle for another worker (re-execution after a crash or pause).
func (c *coordinator) expire() {
	if !c.isCoordinator() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.n.Clock().Now()
	for _, id := range c.order {
		js := c.jobs[id]
		for _, ts := range append(append([]*taskState{}, js.maps...), js.reduces...) {
			for a, at := range ts.running {
				if now.Sub(at.started) >= c.o.Lease {
					delete(ts.running, a)
					if len(ts.running) == 0 && ts.state == taskRunning {
						ts.state, ts.idle = taskIdle, now
						c.o.Counters.Reexecuted.Add(1)
					}
				}
			}
		}
	}
}
