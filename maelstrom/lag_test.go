package maelstrom

import (
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

func TestLagProbeRunsInProcessModeOnly(t *testing.T) {
	if l := measureLag(InProcess{})(); l != nil {
		t.Fatalf("in-process run measured lag %+v; virtual time has none", l)
	}
	stop := measureLag(Binary{Path: "node"})
	time.Sleep(60 * time.Millisecond)
	l := stop()
	if l == nil || l.Samples < 2 || l.Max < l.P99 || l.P99 < 0 {
		t.Fatalf("lag %+v: want a few samples, 0 <= p99 <= max", l)
	}
}

// A lag above a timing check's tolerance is said beside that check's
// verdict, and only that check's, in the summary and in results.json.
func TestLagBesideTheTimingChecksItExceeds(t *testing.T) {
	rep := &Report{Valid: checker.Invalid, Lag: &SchedulingLag{Samples: 100, P99: 20 * time.Millisecond, Max: 150 * time.Millisecond},
		Results: []checker.Result{
			{Checker: "election", Valid: checker.Invalid, Summary: "heartbeat budget exceeded"},
			{Checker: "hlc-bounds", Valid: checker.Valid, Summary: "fine"},
			{Checker: "stats", Valid: checker.Valid, Summary: "ok"},
		}}
	rep.judgeLag()
	if got := rep.Lag.Exceeded; len(got) != 2 || got["election"] != 100*time.Millisecond || got["hlc-bounds"] == 0 {
		t.Fatalf("exceeded = %v, want election and hlc-bounds", got)
	}
	sum := rep.Summary()
	if !strings.Contains(sum, "grader scheduling lag: p99 20") {
		t.Errorf("no lag line in the summary:\n%s", sum)
	}
	for _, line := range strings.Split(sum, "\n") {
		noted := strings.Contains(line, "grader lag max 150")
		if strings.Contains(line, "  election ") && !noted || strings.Contains(line, "  stats ") && noted {
			t.Errorf("line %q: the note belongs beside election and hlc-bounds only", line)
		}
	}
	rep.Lag.Max = 50 * time.Millisecond
	rep.Lag.Exceeded = nil
	rep.judgeLag()
	if _, ok := rep.Lag.Exceeded["election"]; ok {
		t.Errorf("50 ms is within the election's tolerance")
	}
}
