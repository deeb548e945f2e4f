package maelstrom

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

// grade runs args against prog in-process under virtual time.
func grade(t *testing.T, prog program.Program, args ...string) *Report {
	t.Helper()
	return gradeWithFaults(t, prog, nil, args...)
}

// gradeWithFaults is grade with a fixed fault list in place of --nemesis,
// for tests that script which node fails and when.
func gradeWithFaults(t *testing.T, prog program.Program, faults []nemesis.Fault, args ...string) *Report {
	t.Helper()
	opts, err := ParseArgs(args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	opts.StoreDir = ""
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	if faults != nil {
		opts.Faults = faults
	}
	var rep *Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = Run(context.Background(), opts, InProcess{Program: prog})
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// wantViolationAmong demands that checker name reject the run with a
// violation saying what, among possibly others (a broken node may break
// several rules at once), and that it name the node, the op, the value
// and the time.
func wantViolationAmong(t *testing.T, rep *Report, name, what string) {
	t.Helper()
	res, _ := rep.Result(name)
	if res.Valid != checker.Invalid {
		t.Fatalf("want invalid\n%s", rep.Summary())
	}
	for _, v := range res.Violations {
		if v.What == what {
			if v.Node == "" || v.Op == nil || v.Value == nil || v.Time <= 0 {
				t.Fatalf("violation %+v lacks node, op, value or time", v)
			}
			return
		}
	}
	t.Fatalf("no %q among %+v\n%s", what, res.Violations, rep.Summary())
}

func wantVerdict(t *testing.T, rep *Report, want checker.Validity, mentions ...string) {
	t.Helper()
	sum := rep.Summary()
	if rep.Valid != want {
		t.Fatalf("verdict %s, want %s\n%s", rep.Valid, want, sum)
	}
	for _, m := range mentions {
		if !strings.Contains(sum, m) {
			t.Errorf("summary does not mention %q:\n%s", m, sum)
		}
	}
}

func TestEchoValid(t *testing.T) {
	rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "3", "--time-limit", "10", "--rate", "50")
	wantVerdict(t, rep, checker.Valid, "Everything looks good")
	if c := rep.ByF["echo"]; c.OK < 300 || c.Fail+c.Info != 0 {
		t.Fatalf("echo counts %+v, want about 500 ok and nothing else\n%s", c, rep.Summary())
	}
	if rep.ExitCode() != 0 {
		t.Fatalf("exit code %d", rep.ExitCode())
	}
}

func TestEchoWrongPayloadInvalid(t *testing.T) {
	rep := grade(t, testnodes.Echo(true), "-w", "echo", "--node-count", "2", "--time-limit", "5")
	wantVerdict(t, rep, checker.Invalid, "Please echo", "Analysis invalid")
	if rep.ExitCode() != 1 {
		t.Fatalf("exit code %d", rep.ExitCode())
	}
}

func TestScaleInVirtualTime(t *testing.T) {
	start := time.Now()
	rep := grade(t, testnodes.Broadcast(false, false), "-w", "broadcast", "--node-count", "25",
		"--time-limit", "30", "--rate", "10", "--latency", "100")
	wall := time.Since(start)
	wantVerdict(t, rep, checker.Valid)
	t.Logf("25 nodes, 30 s broadcast: %v wall, %v simulated, %d messages", wall, rep.SimDuration, rep.Net.All.MsgCount)
}
