package maelstrom

import (
	"fmt"
	"slices"
	"time"
)

// SchedulingLag is how late the grader's own timers fired during a
// process-mode run: a probe asks to wake every LagInterval and records by
// how much it overslept. On a loaded machine every timer of the grader
// (its clients' timeouts, the fault schedule, its polls) is late by as
// much, so a timing check judged under a large lag may be judging the
// machine rather than the node. In-process runs run on virtual time and
// have no lag.
type SchedulingLag struct {
	Samples int           `json:"samples"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`
	// Exceeded lists, per checker whose verdict depends on timing, the
	// lag it tolerates when the run's lag exceeded it.
	Exceeded map[string]time.Duration `json:"exceeded,omitempty"`
}

// LagInterval is the probe's period.
const LagInterval = 10 * time.Millisecond

// lagTolerance is, per checker that judges real time, the timer lateness
// under which its verdict is about the node: a tenth of its tightest
// bound (the election's 1 s heartbeat window and 2 s failover; net-rpc's
// 2 s refusal; the HLC's bound on wall-clock distance from true time).
var lagTolerance = map[string]time.Duration{
	"election":   100 * time.Millisecond,
	"net-rpc":    200 * time.Millisecond,
	"hlc-bounds": 30 * time.Millisecond,
}

// measureLag starts the probe for a process-mode run; stop ends it and
// returns the figures (nil for in-process runs).
func measureLag(nodes Nodes) (stop func() *SchedulingLag) {
	if _, ok := nodes.(InProcess); ok {
		return func() *SchedulingLag { return nil }
	}
	done := make(chan struct{})
	out := make(chan []time.Duration, 1)
	go func() {
		var late []time.Duration
		t := time.NewTimer(LagInterval)
		defer t.Stop()
		for {
			asked := time.Now()
			t.Reset(LagInterval)
			select {
			case <-done:
				out <- late
				return
			case <-t.C:
				late = append(late, max(0, time.Since(asked)-LagInterval))
			}
		}
	}()
	return func() *SchedulingLag {
		close(done)
		late := <-out
		l := &SchedulingLag{Samples: len(late)}
		if len(late) > 0 {
			slices.Sort(late)
			l.P99, l.Max = late[(len(late)-1)*99/100], late[len(late)-1]
		}
		return l
	}
}

// judgeLag notes, for each timing check of the run, whether the lag
// exceeded what it tolerates.
func (r *Report) judgeLag() {
	if r.Lag == nil {
		return
	}
	for _, res := range r.Results {
		if tol, ok := lagTolerance[res.Checker]; ok && r.Lag.Max > tol {
			if r.Lag.Exceeded == nil {
				r.Lag.Exceeded = map[string]time.Duration{}
			}
			r.Lag.Exceeded[res.Checker] = tol
		}
	}
}

// lagNote is the remark printed beside a checker's verdict when the run's
// lag exceeded what it tolerates.
func (r *Report) lagNote(checker string) string {
	if r.Lag == nil {
		return ""
	}
	tol, ok := r.Lag.Exceeded[checker]
	if !ok {
		return ""
	}
	return fmt.Sprintf(" [grader lag max %s above the %s this check tolerates: a slow machine can fail it; rerun on a quieter one before trusting a timing verdict]",
		ms(r.Lag.Max), ms(tol))
}
