package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// jobs (ours, the scheduler track): clients submit one-shot jobs, with a
// priority (0-9, higher first) and an optional delay, and register cron
// jobs; the nodes run them by writing to the grader's guarded resource,
// the service "resource".
//
//	{"type":"submit","job":"j17","priority":7,"delay":500}   -> {"type":"submit_ok"}
//	{"type":"cron","job":"c0","spec":"*/2 * * * * *"}         -> {"type":"cron_ok"}
//
// delay is in milliseconds (0: run as soon as possible). A cron spec has
// six fields (seconds first) or five. A run of a job is two writes under
// the worker's fencing token; a cron job's run at fire time T (Unix
// seconds) is named "<job>@T":
//
//	{"type":"run","job":"j17","token":K,"holder":"n1/w0","step":"begin"|"end"} -> {"type":"run_ok"}
//
// The resource refuses (error 22) a write whose token is lower than the
// highest it has accepted for that job. holder names the worker. The first
// two operations register cron jobs c0 ("*/2 * * * * *") and c1
// ("*/3 * * * * *"); the rest submit jobs j1, j2, ... with a random
// priority, a quarter of them with a delay of up to 2 s. A registration
// that fails or times out is issued again. History values:
// checker.JobOp. The run has a final phase (heal, then --recovery-time
// of quiet) so that every acknowledged job can run.
func init() {
	Register(func() Spec {
		return Spec{Name: "jobs", Description: "a job scheduler: priorities, delays, cron, runs fenced by tokens", Final: true, Reusable: true,
			Timeout: func(lat time.Duration) time.Duration { return max(10*lat, 2*time.Second) },
			Flags: []Flag{
				{Name: "cron-tolerance", Default: "4000", Usage: "milliseconds a cron run may begin after its fire time"},
				{Name: "priority-slack", Default: "1000", Usage: "milliseconds a ready job may wait while lower-priority jobs begin"},
			},
			New: newJobs}
	})
}

func newJobs(p Params) (Instance, error) {
	tol, err1 := strconv.Atoi(p.Flags["cron-tolerance"])
	slack, err2 := strconv.Atoi(p.Flags["priority-slack"])
	if err1 != nil || err2 != nil || tol <= 0 || slack < 0 {
		return nil, fmt.Errorf("jobs: --cron-tolerance and --priority-slack must be milliseconds")
	}
	w := &jobs{p: p, tol: time.Duration(tol) * time.Millisecond, slack: time.Duration(slack) * time.Millisecond,
		start: time.Now(), maxToken: map[string]int64{}, cronQueue: append([]checker.JobOp(nil), jobsCron...)}
	if p.Network != nil {
		w.start = p.Network.Start()
	}
	return w, nil
}

var jobsCron = []checker.JobOp{{Job: "c0", Spec: "*/2 * * * * *"}, {Job: "c1", Spec: "*/3 * * * * *"}}

type jobs struct {
	noSetup
	p          Params
	tol, slack time.Duration
	start      time.Time

	next int // generator only

	cronMu    sync.Mutex
	cronQueue []checker.JobOp // registrations to (re)issue until one is acknowledged

	mu       sync.Mutex
	runs     []checker.JobRun
	maxToken map[string]int64
	finished bool
}

func (w *jobs) Next(int, int) Invocation {
	w.cronMu.Lock()
	if len(w.cronQueue) > 0 {
		v := w.cronQueue[0]
		w.cronQueue = w.cronQueue[1:]
		w.cronMu.Unlock()
		return Invocation{F: "cron", Value: v}
	}
	w.cronMu.Unlock()
	w.next++
	r := w.p.Rand
	v := checker.JobOp{Job: fmt.Sprintf("j%d", w.next), Priority: r.IntN(10)}
	if r.IntN(4) == 0 {
		v.Delay = time.Duration(r.IntN(2000)) * time.Millisecond
	}
	return Invocation{F: "submit", Value: v}
}

// Final marks the run complete: the final phase started, so every job
// acknowledged is owed a run by the time the checker looks.
func (w *jobs) Final(int) []Invocation {
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
	return nil
}

func (w *jobs) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	v := inv.Value.(checker.JobOp)
	body := map[string]any{"type": "submit", "job": v.Job, "priority": v.Priority, "delay": v.Delay.Milliseconds()}
	if inv.F == "cron" {
		body = map[string]any{"type": "cron", "job": v.Job, "spec": v.Spec}
	}
	raw, err := c.RPC(ctx, body)
	if err == nil {
		_, err = Decode(raw, inv.F+"_ok")
	}
	if err != nil {
		if inv.F == "cron" {
			// Register it again: a run needs its cron jobs.
			w.cronMu.Lock()
			w.cronQueue = append(w.cronQueue, v)
			w.cronMu.Unlock()
		}
		return Outcome(err, true, false)
	}
	return ok(v)
}

func (w *jobs) Check(h history.History) checker.Result {
	w.mu.Lock()
	runs := append([]checker.JobRun(nil), w.runs...)
	complete := w.finished
	w.mu.Unlock()
	return checker.Jobs(h, runs, checker.JobsParams{Start: w.start, End: time.Since(w.start),
		CronTolerance: w.tol, PrioritySlack: w.slack, Complete: complete})
}

// Services: the guarded resource.
func (w *jobs) Services() []string { return []string{"resource"} }

// HandleService is the guarded resource: per job, it accepts a write whose
// token is at least the highest it accepted, and refuses older holders.
func (w *jobs) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req struct {
		Type   string `json:"type"`
		MsgID  int64  `json:"msg_id"`
		Job    string `json:"job"`
		Token  *int64 `json:"token"`
		Holder string `json:"holder"`
		Step   string `json:"step"`
	}
	reply := func(v map[string]any) {
		v["in_reply_to"] = req.MsgID
		raw, _ := json.Marshal(v)
		send(src, raw)
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "run" || req.Job == "" || req.Token == nil || (req.Step != "begin" && req.Step != "end") {
		reply(map[string]any{"type": "error", "code": 12, "text": "want {type: run, job, token, holder, step: begin|end}"})
		return
	}
	w.mu.Lock()
	highest := w.maxToken[req.Job]
	r := checker.JobRun{Time: time.Since(w.start), Src: src, Holder: req.Holder, Job: req.Job, Token: *req.Token, Step: req.Step,
		Accepted: *req.Token >= highest}
	if r.Accepted {
		w.maxToken[req.Job] = *req.Token
	}
	w.runs = append(w.runs, r)
	w.mu.Unlock()
	if !r.Accepted {
		reply(map[string]any{"type": "error", "code": 22, "text": fmt.Sprintf("stale token %d for %s: %d was accepted", *req.Token, req.Job, highest)})
		return
	}
	reply(map[string]any{"type": "run_ok"})
}
