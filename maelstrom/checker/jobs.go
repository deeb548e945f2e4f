package checker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// JobOp is the jobs workload's history value: a submit (Job, Priority,
// Delay) or a cron registration (Job, Spec).
type JobOp struct {
	Job      string        `json:"job"`
	Priority int           `json:"priority,omitempty"`
	Delay    time.Duration `json:"delay,omitempty"`
	Spec     string        `json:"spec,omitempty"`
}

// JobRun is one write the grader's guarded resource received: a worker
// (Holder, on node Src) beginning or ending a run of Job under Token.
type JobRun struct {
	Time     time.Duration `json:"time"`
	Src      string        `json:"src"`
	Holder   string        `json:"holder"`
	Job      string        `json:"job"`
	Token    int64         `json:"token"`
	Step     string        `json:"step"`
	Accepted bool          `json:"accepted"`
}

// jobsFaultGrace is how long after a fault ends priorities are still
// excused: leases of workers cut off by it run out, the queue drains.
const jobsFaultGrace = 2 * time.Second

// JobsParams are what the jobs checker needs besides the history.
type JobsParams struct {
	Start time.Time // the run's start on the nodes' clock (cron fire times are absolute)
	End   time.Duration
	// CronTolerance bounds how late a cron run may begin; PrioritySlack how
	// long a ready job may wait while lower-priority ones begin.
	CronTolerance, PrioritySlack time.Duration
	// Complete: the run reached its end, so every submitted job is owed a run.
	Complete bool
}

// JobsDetails are the jobs checker's figures.
type JobsDetails struct {
	Submitted    int       `json:"submitted"`
	Completed    int       `json:"completed"`
	Runs         int       `json:"runs"`
	Rejected     int       `json:"rejected"`
	CronFires    int       `json:"cron-fires"`
	CronLateness Quantiles `json:"cron-lateness"`
	QueueWait    Quantiles `json:"queue-wait"`
}

type jobSubmit struct {
	op      op
	v       JobOp
	readyAt time.Duration
	begin   time.Duration // first accepted begin, -1 if none
}

// Jobs checks the scheduler: a job's runs never overlap under the same
// token (a higher token fences an older run off); every acknowledged job
// runs to its end at least once, never before its delay; a job that has
// been ready for longer than the slack is not passed over by a
// lower-priority one while the system is undisturbed by faults; and cron
// jobs begin each fire within the tolerance after their time, never
// before it and never at a time their schedule does not name.
func Jobs(h history.History, runs []JobRun, p JobsParams) Result {
	res := Result{Checker: "jobs", Valid: Valid}
	var d JobsDetails
	type section struct {
		holder string
		token  int64
	}
	ops := pairUp(h)
	// The operation that submitted (or registered) each job: a violation
	// found among the resource's writes shows it.
	byJob := map[string]*history.Op{}
	for _, o := range ops {
		if v, ok := o.invoke.Value.(JobOp); ok && o.invoke.Process >= 0 {
			byJob[v.Job] = o.observed()
		}
	}
	open := map[string]*section{}
	firstBegin := map[string]time.Duration{}
	ended := map[string]bool{}
	for _, r := range runs {
		if !r.Accepted {
			d.Rejected++
			continue
		}
		s := open[r.Job]
		if s != nil && s.holder != r.Holder && r.Token > s.token {
			s, open[r.Job] = nil, nil // fenced off by a newer holder
		}
		if s != nil && s.holder != r.Holder {
			id, _, _ := strings.Cut(r.Job, "@") // a cron fire shows its registration
			res.add(Violation{What: "two holders ran a job", Node: r.Src, Op: byJob[id], Value: r.Job, Time: r.Time,
				Detail: fmt.Sprintf("the resource accepted %s's %s of job %s (token %d) at %s while %s's run of it (token %d) was open", r.Holder, r.Step, r.Job, r.Token, at(r.Time), s.holder, s.token)})
		}
		switch r.Step {
		case "begin":
			open[r.Job] = &section{r.Holder, r.Token}
			if _, ok := firstBegin[r.Job]; !ok {
				firstBegin[r.Job] = r.Time
				d.Runs++
			}
		case "end":
			open[r.Job] = nil
			ended[r.Job] = true
		}
	}
	var subs []*jobSubmit
	var lateness []time.Duration
	for _, o := range ops {
		if o.invoke.Process < 0 {
			continue
		}
		v, ok := o.invoke.Value.(JobOp)
		if !ok {
			continue
		}
		if o.invoke.F == "cron" {
			if o.outcome() == history.OK {
				lateness = append(lateness, checkCron(&res, &d, o, v, firstBegin, p)...)
			}
			continue
		}
		if o.invoke.F != "submit" || o.outcome() == history.Fail {
			continue
		}
		if b, ok := firstBegin[v.Job]; ok && b < o.invoke.Time+v.Delay {
			res.add(Violation{What: "job ran before its delay", Node: o.node(), Op: o.observed(), Value: v.Job, Time: b,
				Detail: fmt.Sprintf("job %s submitted %s at %s with delay %v began at %s", v.Job, where(o.node(), o.invoke.Process), at(o.invoke.Time), v.Delay, at(b))})
		}
		if o.outcome() != history.OK {
			continue
		}
		d.Submitted++
		s := &jobSubmit{op: o, v: v, readyAt: max(o.completion.Time, o.invoke.Time+v.Delay), begin: -1}
		if b, ok := firstBegin[v.Job]; ok {
			s.begin = b
		}
		subs = append(subs, s)
		if ended[v.Job] {
			d.Completed++
		} else if p.Complete {
			res.add(Violation{What: "job never ran", Node: o.node(), Op: o.observed(), Value: v.Job, Time: o.completion.Time,
				Detail: fmt.Sprintf("job %s, acknowledged %s at %s, never ran to its end", v.Job, where(o.node(), o.invoke.Process), at(o.completion.Time))})
		}
	}
	// Faults excuse priority inversions: a paused or cut-off worker may sit
	// on a claimed job until its lease runs out. Quiet spans are the healthy
	// windows less a grace period after each fault ends.
	healthy := HealthyWindows(h, p.End)
	quiet := func(from, to time.Duration) bool {
		for _, w := range healthy {
			grace := jobsFaultGrace
			if w.From == 0 {
				grace = 0
			}
			if w.From+grace <= from && to <= w.To {
				return true
			}
		}
		return false
	}
	var waits []time.Duration
	for _, b := range subs {
		if b.begin >= 0 {
			waits = append(waits, max(0, b.begin-b.readyAt))
		}
	}
	// A passed over by B: A ready for longer than the slack when B, of
	// lower priority, began, and A not begun yet.
	slices.SortFunc(subs, func(a, b *jobSubmit) int { return int(a.begin - b.begin) })
	for _, b := range subs {
		if b.begin < 0 {
			continue
		}
		for _, a := range subs {
			if a.v.Priority <= b.v.Priority || a.readyAt+p.PrioritySlack >= b.begin || (a.begin >= 0 && a.begin <= b.begin) {
				continue
			}
			if !quiet(a.readyAt, b.begin) {
				continue
			}
			res.add(Violation{What: "priority inversion", Node: b.op.node(), Op: a.op.observed(), Value: a.v.Job, Time: b.begin,
				Detail: fmt.Sprintf("job %s (priority %d) began at %s while job %s (priority %d), ready since %s, was still waiting", b.v.Job, b.v.Priority, at(b.begin), a.v.Job, a.v.Priority, at(a.readyAt))})
			break
		}
		if res.Valid == Invalid && len(res.Violations) >= maxViolations {
			break
		}
	}
	d.QueueWait = quantilesOf(waits)
	d.CronLateness = quantilesOf(lateness)
	res.Details = d
	res.finish(fmt.Sprintf("%d jobs submitted, %d ran to their end (%d distinct jobs began, %d writes refused as stale); queue wait p50 %v p99 %v; %d cron fires, lateness p50 %v p99 %v",
		d.Submitted, d.Completed, d.Runs, d.Rejected, d.QueueWait.P50.Round(time.Millisecond), d.QueueWait.P99.Round(time.Millisecond),
		d.CronFires, d.CronLateness.P50.Round(time.Millisecond), d.CronLateness.P99.Round(time.Millisecond)))
	return res
}

// checkCron judges one cron registration against github.com/robfig/cron/v3,
// the grader's reference for next fire times.
// It returns how late each fire in time began.
func checkCron(res *Result, d *JobsDetails, o op, v JobOp, firstBegin map[string]time.Duration, p JobsParams) []time.Duration {
	sched, err := robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow).Parse(v.Spec)
	if err != nil {
		return nil
	}
	expected := map[int64]bool{}
	var late []time.Duration
	for t := sched.Next(p.Start.Add(o.completion.Time)); t.Sub(p.Start) <= p.End-p.CronTolerance; t = sched.Next(t) {
		expected[t.Unix()] = true
		rel := t.Sub(p.Start)
		job := v.Job + "@" + strconv.FormatInt(t.Unix(), 10)
		b, ok := firstBegin[job]
		d.CronFires++
		switch {
		case !ok || b > rel+p.CronTolerance:
			res.add(Violation{What: "cron fire late or missed", Node: o.node(), Op: o.observed(), Value: job, Time: rel,
				Detail: fmt.Sprintf("cron job %s (%q) was due at %s; %s", v.Job, v.Spec, at(rel), beganText(b, ok, p.CronTolerance))})
		case b < rel:
			res.add(Violation{What: "cron fired early", Node: o.node(), Op: o.observed(), Value: job, Time: b,
				Detail: fmt.Sprintf("cron job %s (%q) due at %s began at %s", v.Job, v.Spec, at(rel), at(b))})
		default:
			late = append(late, b-rel)
		}
	}
	for job, b := range firstBegin {
		id, ts, ok := strings.Cut(job, "@")
		if !ok || id != v.Job {
			continue
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || (!expected[sec] && time.Unix(sec, 0).Sub(p.Start) <= p.End-p.CronTolerance && time.Unix(sec, 0).Sub(p.Start) > o.completion.Time) {
			res.add(Violation{What: "cron fired off schedule", Node: o.node(), Op: o.observed(), Value: job, Time: b,
				Detail: fmt.Sprintf("cron job %s (%q) ran as %s at %s, a time its schedule does not name", v.Job, v.Spec, job, at(b))})
		}
	}
	return late
}

func beganText(b time.Duration, ok bool, tol time.Duration) string {
	if !ok {
		return "it never began"
	}
	return fmt.Sprintf("it began at %s, more than %v late", at(b), tol)
}
