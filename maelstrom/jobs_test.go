package maelstrom

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// jobsNode is a single-node scheduler for the jobs workload: one worker
// that takes a step per 50 ms tick (begin, then end), so that a backlog
// builds up and priorities matter. It is correct unless fault names a way
// to break it:
//
//	early     delays are ignored
//	lose      every 10th job is acknowledged and dropped
//	fifo      jobs run in arrival order, whatever their priority
//	twice     every job is begun by two holders under token 0
//	late      cron fires are enqueued 6 s late
func jobsNode(fault string) program.Program {
	type job struct {
		id       string
		prio     int
		notBefor time.Time
		seq      int
	}
	type cronJob struct {
		id    string
		sched robfig.Schedule
		next  time.Time
	}
	parser := robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)
	return testnodes.Program(func() testnodes.Handlers {
		var (
			queue   []*job
			crons   []*cronJob
			seq     int
			token   int64
			current *job
			step    int
			n       int
		)
		write := func(nd *testnodes.Node, j *job, st string, holder string, tok int64) {
			nd.RPC("resource", map[string]any{"type": "run", "job": j.id, "token": tok, "holder": holder, "step": st})
		}
		return testnodes.Handlers{Every: 50 * time.Millisecond,
			Tick: func(nd *testnodes.Node) {
				now := time.Now()
				for _, c := range crons {
					lag := time.Duration(0)
					if fault == "late" {
						lag = 6 * time.Second
					}
					for !c.next.Add(lag).After(now) {
						seq++
						queue = append(queue, &job{id: fmt.Sprintf("%s@%d", c.id, c.next.Unix()), prio: 10, seq: seq})
						c.next = c.sched.Next(c.next)
					}
				}
				if current != nil {
					if step == 1 {
						write(nd, current, "end", "w0", token)
						if fault == "twice" {
							write(nd, current, "end", "w1", token)
						}
						current = nil
					}
					return
				}
				sort.SliceStable(queue, func(i, k int) bool {
					if fault == "fifo" || queue[i].prio == queue[k].prio {
						return queue[i].seq < queue[k].seq
					}
					return queue[i].prio > queue[k].prio
				})
				for i, j := range queue {
					if fault != "early" && j.notBefor.After(now) {
						continue
					}
					queue = append(queue[:i], queue[i+1:]...)
					current, step = j, 1
					token++
					if fault == "twice" {
						token = 0
						write(nd, j, "begin", "w0", token)
						write(nd, j, "begin", "w1", token)
						return
					}
					write(nd, j, "begin", "w0", token)
					return
				}
			},
			Handle: func(nd *testnodes.Node, m testnodes.Msg) error {
				if m.Src == "resource" {
					return nil
				}
				var s string
				_ = json.Unmarshal(m.Body["job"], &s)
				switch m.Type() {
				case "submit":
					n++
					if fault != "lose" || n%10 != 0 {
						seq++
						queue = append(queue, &job{id: s, prio: int(m.Int("priority")), notBefor: time.Now().Add(time.Duration(m.Int("delay")) * time.Millisecond), seq: seq})
					}
					nd.Reply(m, map[string]any{"type": "submit_ok"})
				case "cron":
					var spec string
					_ = json.Unmarshal(m.Body["spec"], &spec)
					sched, err := parser.Parse(spec)
					if err != nil {
						nd.Reply(m, map[string]any{"type": "error", "code": 12, "text": err.Error()})
						return nil
					}
					crons = append(crons, &cronJob{id: s, sched: sched, next: sched.Next(time.Now())})
					nd.Reply(m, map[string]any{"type": "cron_ok"})
				}
				return nil
			}}
	})
}

func gradeJobs(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, jobsNode(fault), "-w", "jobs", "--node-count", "1", "--time-limit", "10", "--rate", "15", "--concurrency", "2")
}

func TestJobsCorrectNode(t *testing.T) {
	rep := gradeJobs(t, "")
	wantVerdict(t, rep, checker.Valid)
	res, _ := rep.Result("jobs")
	if d := res.Details.(checker.JobsDetails); d.Completed < 100 || d.CronFires < 5 || d.QueueWait.P99 < 500*time.Millisecond {
		t.Fatalf("jobs figures %+v: want a backlog (queue wait p99 >= 500ms), 100+ jobs and cron fires", d)
	}
}

func TestJobsBrokenNodes(t *testing.T) {
	for fault, what := range map[string]string{
		"early": "job ran before its delay",
		"lose":  "job never ran",
		"fifo":  "priority inversion",
		"twice": "two holders ran a job",
		"late":  "cron fire late or missed",
	} {
		t.Run(fault, func(t *testing.T) {
			rep := gradeJobs(t, fault)
			wantViolationAmong(t, rep, "jobs", what)
		})
	}
}
