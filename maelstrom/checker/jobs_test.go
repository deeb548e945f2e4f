package checker

import (
	"strconv"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var jobsStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func jobsParams(endMS int) JobsParams {
	return JobsParams{Start: jobsStart, End: msT(endMS), CronTolerance: 4 * time.Second, PrioritySlack: time.Second, Complete: true}
}

func begin(job, holder string, token int64, ms int) JobRun {
	return JobRun{Time: msT(ms), Src: "n1", Holder: holder, Job: job, Token: token, Step: "begin", Accepted: true}
}

func end(job, holder string, token int64, ms int) JobRun {
	r := begin(job, holder, token, ms)
	r.Step = "end"
	return r
}

// inversion: j-hi (priority 9) is acknowledged at 100 ms and waits until
// 3 s, while j-lo (priority 1) begins at 2 s. The nemesis steps are
// written first (the checker reads them by time).
func inversion(nemesis func(b *builder)) (history.History, []JobRun) {
	b := &builder{}
	nemesis(b)
	b.call(history.OK, 0, "n1", "submit", JobOp{Job: "j-hi", Priority: 9}, JobOp{Job: "j-hi", Priority: 9}, 50, 100)
	b.call(history.OK, 1, "n1", "submit", JobOp{Job: "j-lo", Priority: 1}, JobOp{Job: "j-lo", Priority: 1}, 60, 110)
	runs := []JobRun{begin("j-lo", "w0", 1, 2000), end("j-lo", "w0", 1, 2050), begin("j-hi", "w0", 2, 3000), end("j-hi", "w0", 2, 3050)}
	return b.h, runs
}

func TestJobsPriorityInversion(t *testing.T) {
	h, runs := inversion(func(*builder) {})
	v := mustInvalid(t, Jobs(h, runs, jobsParams(10000)), "priority inversion")
	if v.Value != "j-hi" || v.Time != msT(2000) || v.Node == "" {
		t.Fatalf("violation %+v: want j-hi passed over at 2s, with its node", v)
	}
}

// A fault excuses it (a cut-off worker may sit on a claimed job), and so
// does the grace period after the fault ends; a fault elsewhere does not.
func TestJobsPriorityExcusedByFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		nemesis func(b *builder)
		valid   bool
	}{
		"during a partition": {func(b *builder) { b.nemesis("start-partition", 10).nemesis("stop-partition", 1000) }, true},
		"during a pause":     {func(b *builder) { b.nemesis("pause", 1500).nemesis("resume", 2500) }, true},
		"a kill after it":    {func(b *builder) { b.nemesis("kill", 4000).nemesis("restart", 4500) }, false},
	} {
		t.Run(name, func(t *testing.T) {
			h, runs := inversion(tc.nemesis)
			res := Jobs(h, runs, jobsParams(10000))
			if (res.Valid == Valid) != tc.valid {
				t.Fatalf("valid %v, want %v: %s", res.Valid, tc.valid, res.Summary)
			}
		})
	}
}

func TestJobsFencing(t *testing.T) {
	b := &builder{}
	b.call(history.OK, 0, "n1", "submit", JobOp{Job: "j1"}, JobOp{Job: "j1"}, 50, 100)
	// w0 pauses inside its run; w1 takes over under a higher token: the
	// open run is fenced off, and w0's late end is refused.
	fenced := []JobRun{begin("j1", "w0", 5, 200), begin("j1", "w1", 9, 1500), end("j1", "w1", 9, 1550)}
	stale := JobRun{Time: msT(1600), Src: "n2", Holder: "w0", Job: "j1", Token: 5, Step: "end"}
	if res := Jobs(b.h, append(fenced, stale), jobsParams(5000)); res.Valid != Valid {
		t.Fatalf("fenced takeover judged %s: %s", res.Valid, res.Summary)
	}
	// Without tokens both are accepted under 0 while w0's run is open.
	unfenced := []JobRun{begin("j1", "w0", 0, 200), begin("j1", "w1", 0, 1500), end("j1", "w0", 0, 1520), end("j1", "w1", 0, 1550)}
	v := mustInvalid(t, Jobs(b.h, unfenced, jobsParams(5000)), "two holders ran a job")
	if v.Value != "j1" || v.Time != msT(1500) {
		t.Fatalf("violation %+v: want j1 at 1.5s", v)
	}
}

func TestJobsCron(t *testing.T) {
	// c0 fires every 2 s; registered at 0.1 s, so due at 2, 4, 6, 8 s
	// (fires within the tolerance of the end are not owed).
	reg := func() *builder {
		b := &builder{}
		return b.call(history.OK, 0, "n1", "cron", JobOp{Job: "c0", Spec: "*/2 * * * * *"}, JobOp{Job: "c0", Spec: "*/2 * * * * *"}, 50, 100)
	}
	fire := func(sec int, ms int) []JobRun {
		job := "c0@" + strconv.FormatInt(jobsStart.Unix()+int64(sec), 10)
		return []JobRun{begin(job, "w0", int64(sec), ms), end(job, "w0", int64(sec), ms+50)}
	}
	var onTime []JobRun
	for _, s := range []int{2, 4, 6, 8} {
		onTime = append(onTime, fire(s, s*1000+100)...)
	}
	if res := Jobs(reg().h, onTime, jobsParams(12000)); res.Valid != Valid {
		t.Fatalf("on-time fires judged %s: %s", res.Valid, res.Summary)
	}
	early := append(append([]JobRun{}, onTime[2:]...), fire(2, 1900)...)
	mustInvalid(t, Jobs(reg().h, early, jobsParams(12000)), "cron fired early")
	late := append(append([]JobRun{}, onTime[2:]...), fire(2, 6500)...)
	mustInvalid(t, Jobs(reg().h, late, jobsParams(12000)), "cron fire late or missed")
	off := append(append([]JobRun{}, onTime...), fire(3, 3100)...)
	mustInvalid(t, Jobs(reg().h, off, jobsParams(12000)), "cron fired off schedule")
}
