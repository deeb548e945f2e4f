package mapreducer

import (
	"context"
	"fmt"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer/mr"
)

// worker asks the coordinator for tasks and runs them. A map attempt's
// output stays here, partitioned by reducer, until its job is finished; it
// lives in memory, so a worker that restarts has lost it and the
// reducers' failed fetches make the coordinator run those maps again.
type worker struct {
	n *node.Node
	o Options

	mu     sync.Mutex
	output map[outputKey][][]mr.KeyValue
}

type outputKey struct {
	job             string
	mapIdx, attempt int
}

func newWorker(n *node.Node, o Options) *worker {
	w := &worker{n: n, o: o, output: map[outputKey][][]mr.KeyValue{}}
	node.HandleTyped(n, "fetch", w.fetch)
	n.Every(o.Poll, w.work)
	return w
}

type taskReply struct {
	Task     *Task    `json:"task"`
	Finished []string `json:"finished"`
}

// work asks for one task and runs it; the next tick asks again.
func (w *worker) work(ctx context.Context) {
	coord := coordinatorID(w.n)
	if w.n.ID() == coord {
		return
	}
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 2*w.o.Fetch)
		r, err := node.Call[taskReply](rctx, w.n, coord, map[string]any{"type": "task_request"})
		cancel()
		if err != nil {
			return
		}
		w.forget(r.Finished)
		if r.Task == nil {
			return
		}
		report := w.run(ctx, r.Task)
		rctx, cancel = context.WithTimeout(ctx, 2*w.o.Fetch)
		_, _ = w.n.SyncRPC(rctx, coord, report)
		cancel()
	}
}

// forget drops the map output of finished jobs: no reducer needs it.
func (w *worker) forget(jobs []string) {
	if len(jobs) == 0 {
		return
	}
	done := map[string]bool{}
	for _, j := range jobs {
		done[j] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.output {
		if done[k.job] {
			delete(w.output, k)
		}
	}
}

func (w *worker) run(ctx context.Context, t *Task) map[string]any {
	report := map[string]any{"type": "task_done", "job": t.Job, "kind": t.Kind, "index": t.Index, "attempt": t.Attempt}
	app, err := mr.AppFor(t.App, t.Pattern)
	if err != nil || t.Reducers < 1 {
		w.n.Logger().Error("unrunnable task", "job", t.Job, "err", err)
		return report
	}
	if t.Kind == "map" {
		if t.Split == nil {
			return report
		}
		text := t.Split.Text
		if w.o.Input != nil && text == "" {
			var local bool
			var err error
			if text, local, err = w.o.Input.Load(ctx, t.Job, t.Split.Name); err != nil {
				// Not readable now: the task goes back to idle.
				w.n.Logger().Warn("cannot load a split", "job", t.Job, "split", t.Split.Name, "err", err)
				report["type"] = "task_failed"
				return report
			}
			report["local"] = local
		}
		parts := mr.MapTask(app, mr.Split{Name: t.Split.Name, Data: []byte(text)}, t.Reducers)
		w.mu.Lock()
		w.output[outputKey{t.Job, t.Index, t.Attempt}] = parts
		w.mu.Unlock()
		return report
	}
	// Fetch partition t.Index of every map's output, in map order, all
	// at once.
	ins := make([][]mr.KeyValue, len(t.Maps))
	lost := make([]bool, len(t.Maps))
	var wg sync.WaitGroup
	for m, loc := range t.Maps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := w.fetchFrom(ctx, loc, t.Job, m, t.Index)
			ins[m], lost[m] = recs, err != nil
		}()
	}
	wg.Wait()
	var lostMaps []int
	for m, l := range lost {
		if l {
			lostMaps = append(lostMaps, m)
		}
	}
	if len(lostMaps) > 0 {
		report["type"], report["lost"] = "task_failed", lostMaps
		return report
	}
	var in []mr.KeyValue
	for _, recs := range ins {
		in = append(in, recs...)
	}
	report["output"] = pairs(mr.ReduceTask(app, in))
	return report
}

func (w *worker) fetchFrom(ctx context.Context, loc Location, job string, m, partition int) ([]mr.KeyValue, error) {
	if loc.Worker == w.n.ID() {
		return w.local(job, m, loc.Attempt, partition)
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Fetch)
	defer cancel()
	r, err := node.Call[struct {
		Records [][2]string `json:"records"`
	}](ctx, w.n, loc.Worker, map[string]any{"type": "fetch", "job": job, "map": m, "attempt": loc.Attempt, "partition": partition})
	if err != nil {
		return nil, err
	}
	out := make([]mr.KeyValue, len(r.Records))
	for i, p := range r.Records {
		out[i] = mr.KeyValue{Key: p[0], Value: p[1]}
	}
	return out, nil
}

func (w *worker) local(job string, m, attempt, partition int) ([]mr.KeyValue, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts, ok := w.output[outputKey{job, m, attempt}]
	if !ok || partition < 0 || partition >= len(parts) {
		return nil, node.NewRPCError(node.KeyDoesNotExist, fmt.Sprintf("no output of map %d attempt %d of job %s here", m, attempt, job))
	}
	return parts[partition], nil
}

func (w *worker) fetch(_ node.Message, req struct {
	Job       string `json:"job"`
	Map       int    `json:"map"`
	Attempt   int    `json:"attempt"`
	Partition int    `json:"partition"`
}) (any, error) {
	recs, err := w.local(req.Job, req.Map, req.Attempt, req.Partition)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": "fetch_ok", "records": pairs(recs)}, nil
}
