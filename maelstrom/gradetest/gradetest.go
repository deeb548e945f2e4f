// Package gradetest lets a track's Go tests grade the track's stages.tsv
// with the grader: every stage in-process under testing/synctest virtual
// time with a fixed seed (RunStages), or the CI stage against the real
// binary as a process (GradeBinary). The stages file stays the single
// source of truth for how a track is graded.
package gradetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// Seed is the seed stages run with unless their arguments give --seed, so
// that a failure replays exactly.
const Seed = 1

// CITimeLimit caps the time limit of the stage GradeBinary runs.
const CITimeLimit = 5 * time.Second

// RunStages grades every stage of stagesFile in-process, one subtest each.
// prog builds the node program from the stage's node arguments.
func RunStages(t *testing.T, stagesFile string, prog func(nodeArgs []string) program.Program) {
	t.Helper()
	all, err := stages.Load(stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) { RunStage(t, st, prog) })
	}
}

// RunStagesThen grades every stage like RunStages and, once a stage has
// met its expectation, hands its report to then, for the track's own
// checks of what the grader measured (targets, figures to log).
func RunStagesThen(t *testing.T, stagesFile string, prog func(nodeArgs []string) program.Program,
	then func(t *testing.T, st stages.Stage, rep *maelstrom.Report)) {
	t.Helper()
	all, err := stages.Load(stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			rep := Grade(t, st, prog)
			if ok, why := Verdict(st, rep); !ok {
				t.Fatalf("stage %s: %s\n%s", st.Name, why, rep.Summary())
			}
			then(t, st, rep)
		})
	}
}

// Stage returns the stage called name from stagesFile, failing t when
// there is none.
func Stage(t testing.TB, stagesFile, name string) stages.Stage {
	t.Helper()
	all, err := stages.Load(stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stages.Find(all, name)
	if err != nil {
		t.Fatalf("%s: %v", stagesFile, err)
	}
	return st
}

// RunStage grades one stage in-process under virtual time and fails t
// when the verdict is not the stage's expectation.
func RunStage(t *testing.T, st stages.Stage, prog func(nodeArgs []string) program.Program) {
	t.Helper()
	check(t, st, Grade(t, st, prog))
}

// Grade runs one stage in-process under virtual time and returns the
// report, failing t only when the stage cannot run at all.
func Grade(t *testing.T, st stages.Stage, prog func(nodeArgs []string) program.Program) *maelstrom.Report {
	t.Helper()
	opts := options(t, st)
	var (
		rep *maelstrom.Report
		err error
	)
	synctest.Test(t, func(t *testing.T) {
		rep, err = maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: prog(st.NodeArgs), Args: st.NodeArgs})
	})
	if err != nil {
		t.Fatalf("stage %s: %v", st.Name, err)
	}
	return rep
}

// GradeBinary grades the stage marked ci=yes against the binary at
// binPath, run as processes in real time with the time limit capped at
// CITimeLimit.
func GradeBinary(t *testing.T, stagesFile, binPath string) {
	t.Helper()
	all, err := stages.Load(stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(s stages.Stage) bool { return s.CI })
	if i < 0 {
		t.Fatalf("%s has no stage marked ci=yes", stagesFile)
	}
	st := all[i]
	opts := options(t, st)
	opts.TimeLimit = min(opts.TimeLimit, CITimeLimit)
	rep, err := maelstrom.Run(context.Background(), opts, maelstrom.Binary{Path: binPath, Args: st.NodeArgs})
	if err != nil {
		t.Fatalf("stage %s: %v", st.Name, err)
	}
	check(t, st, rep)
}

// options reads a stage's grader arguments for a test run, failing t when
// they do not parse.
func options(t *testing.T, st stages.Stage) maelstrom.Options {
	t.Helper()
	opts, err := Options(st)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// Options reads a stage's grader arguments for a test run: nothing stored,
// and the fixed Seed unless the stage gives its own.
func Options(st stages.Stage) (maelstrom.Options, error) {
	opts, err := maelstrom.ParseArgs(st.GraderArgs)
	if err != nil {
		return opts, fmt.Errorf("stage %s: %w", st.Name, err)
	}
	opts.StoreDir = ""
	if !opts.SeedSet {
		opts.Seed = Seed
	}
	return opts, nil
}

// GradeOutsideTest grades one stage in-process under virtual time where
// there is no *testing.T to fail, as in benchmarks that print tables of the
// grader's figures. A crash is returned as an error.
func GradeOutsideTest(st stages.Stage, prog program.Program) (*maelstrom.Report, error) {
	opts, err := Options(st)
	if err != nil {
		return nil, err
	}
	var rep *maelstrom.Report
	// synctest needs a *testing.T only to report failures of its own; the
	// grading reports everything through rep and err.
	synctest.Test(&testing.T{}, func(*testing.T) {
		rep, err = maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: prog, Args: st.NodeArgs})
	})
	if err == nil && rep.Crash != nil {
		err = fmt.Errorf("stage %s crashed: %s", st.Name, rep.Crash)
	}
	return rep, err
}

// Verdict reports whether rep meets the stage's expectation, and why not.
func Verdict(st stages.Stage, rep *maelstrom.Report) (bool, string) {
	crash := ""
	if rep.Crash != nil {
		crash = rep.Crash.String()
	}
	return st.Judge(crash, rep.Valid, rep.Results)
}

func check(t *testing.T, st stages.Stage, rep *maelstrom.Report) {
	t.Helper()
	if ok, why := Verdict(st, rep); !ok {
		t.Errorf("stage %s: %s\n%s", st.Name, why, rep.Summary())
	}
}
