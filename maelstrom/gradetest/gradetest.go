// Package gradetest lets a track's Go tests grade the track's stages.tsv
// with the grader: every stage in-process under testing/synctest virtual
// time with a fixed seed (RunStages), or the CI stage against the real
// binary as a process (GradeBinary). The stages file stays the single
// source of truth for how a track is graded.
//
// A stage's verdict must hold on every seed, so the test binary of every
// track that uses this package takes a -sweep N flag
// (`go test ./tracks/store -args -sweep 20`, or `make sweep SEEDS=20`):
// each stage is then graded with N seeds, from -sweep-from on, and a line
// "sweep <track> <stage> <hits>/<N> ..." reports its hit rate. A stage whose
// arguments fix --seed is graded once: chance was removed on purpose.
package gradetest

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// Seed is the seed stages run with unless their arguments give --seed, so
// that a failure replays: the seed fixes the fault schedule, the
// generator's operations and the network's draws. Goroutines that run at
// the same virtual instant may still interleave differently from one run
// to the next, so a verdict that depends on such a race replays only at
// its rate; `go test -count N` with one seed measures it.
const Seed = 1

// CITimeLimit caps the time limit of the stage GradeBinary runs.
const CITimeLimit = 5 * time.Second

var (
	sweepN    = flag.Int("sweep", 0, "grade every stage with this many seeds and print each stage's hit rate (0: the one default seed)")
	sweepFrom = flag.Uint64("sweep-from", Seed, "the first seed of a -sweep")
)

// Seeds returns the seeds a stage is graded with in this test run: its own
// --seed if it fixes one, the -sweep seeds if a sweep was asked for, else
// Seed.
func Seeds(st stages.Stage) ([]uint64, error) {
	opts, err := Options(st)
	if err != nil {
		return nil, err
	}
	if opts.SeedSet || *sweepN <= 0 {
		return []uint64{uint64(opts.Seed)}, nil
	}
	seeds := make([]uint64, *sweepN)
	for i := range seeds {
		seeds[i] = *sweepFrom + uint64(i)
	}
	return seeds, nil
}

// Sweeping reports whether this test run sweeps seeds (-sweep N).
func Sweeping() bool { return *sweepN > 0 }

// RunStages grades every stage of stagesFile in-process, one subtest each.
// prog builds the node program from the stage's node arguments.
func RunStages(t *testing.T, stagesFile string, prog func(nodeArgs []string) program.Program) {
	t.Helper()
	RunStagesThen(t, stagesFile, prog, nil)
}

// LogResults is a RunStagesThen hook that logs the summary of each named
// checker the report has (printed with -v): the figures a lesson quotes.
func LogResults(checkers ...string) func(*testing.T, stages.Stage, *maelstrom.Report) {
	return func(t *testing.T, _ stages.Stage, rep *maelstrom.Report) {
		t.Helper()
		for _, name := range checkers {
			if res, ok := rep.Result(name); ok {
				t.Logf("%s: %s", name, res.Summary)
			}
		}
	}
}

// RunStagesThen grades every stage like RunStages and, once a stage has
// met its expectation, hands its report to then (when not nil), for the
// track's own checks of what the grader measured (targets, figures to
// log). Under -sweep, every seed's report is handed on.
func RunStagesThen(t *testing.T, stagesFile string, prog func(nodeArgs []string) program.Program,
	then func(t *testing.T, st stages.Stage, rep *maelstrom.Report)) {
	t.Helper()
	sweepStages(t, stagesFile, func(t *testing.T, st stages.Stage) *maelstrom.Report { return Grade(t, st, prog) }, then)
}

// Skip, set by a track's test, names the stages its default run leaves
// out (to keep `go test` short) and why; a -sweep grades them all.
type Skip func(st stages.Stage) (why string)

// RunStagesSkippingThen is RunStagesThen with skip consulted for every
// stage when no sweep was asked for.
func RunStagesSkippingThen(t *testing.T, stagesFile string, prog func(nodeArgs []string) program.Program,
	skip Skip, then func(t *testing.T, st stages.Stage, rep *maelstrom.Report)) {
	t.Helper()
	sweepStages(t, stagesFile, func(t *testing.T, st stages.Stage) *maelstrom.Report {
		if skip != nil && !Sweeping() {
			if why := skip(st); why != "" {
				t.Skip(why)
			}
		}
		return Grade(t, st, prog)
	}, then)
}

// RunStagesAsProcesses grades every stage of stagesFile against the binary
// at binPath, run as processes in real time: for workloads that cannot run
// under virtual time. It honours -sweep like RunStagesThen; then may be nil.
func RunStagesAsProcesses(t *testing.T, stagesFile, binPath string,
	then func(t *testing.T, st stages.Stage, rep *maelstrom.Report)) {
	t.Helper()
	sweepStages(t, stagesFile, func(t *testing.T, st stages.Stage) *maelstrom.Report {
		opts := options(t, st)
		rep, err := maelstrom.Run(context.Background(), opts, maelstrom.Binary{Path: binPath, Args: st.NodeArgs})
		if err != nil {
			t.Fatalf("stage %s: %v", st.Name, err)
		}
		return rep
	}, then)
}

// sweepStages grades each stage with each of its Seeds, one subtest per
// stage (and per seed when there are several), and under -sweep prints
// the stage's hit rate.
func sweepStages(t *testing.T, stagesFile string, grade func(*testing.T, stages.Stage) *maelstrom.Report,
	then func(t *testing.T, st stages.Stage, rep *maelstrom.Report)) {
	t.Helper()
	all, err := stages.Load(stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	track := trackName(stagesFile)
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			seeds, err := Seeds(st)
			if err != nil {
				t.Fatal(err)
			}
			one := func(t *testing.T, st stages.Stage) (bool, string) {
				rep := grade(t, st)
				if ok, why := Verdict(st, rep); !ok {
					t.Errorf("stage %s: %s\n%s", st.Name, why, rep.Summary())
					return false, missReason(why, rep)
				}
				if then != nil {
					then(t, st, rep)
				}
				return true, ""
			}
			if !Sweeping() {
				st.GraderArgs = withSeed(st.GraderArgs, seeds[0])
				one(t, st)
				return
			}
			var missed, reasons []string
			for _, seed := range seeds {
				s := st
				s.GraderArgs = withSeed(st.GraderArgs, seed)
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					if ok, why := one(t, s); !ok {
						missed = append(missed, fmt.Sprint(seed))
						reasons = append(reasons, fmt.Sprintf("seed %d: %s", seed, why))
					}
				})
			}
			line := fmt.Sprintf("sweep\t%s\t%s\t%d/%d seeds", track, st.Name, len(seeds)-len(missed), len(seeds))
			if len(seeds) == 1 && *sweepN != 1 {
				line += fmt.Sprintf(" (fixed --seed %d)", seeds[0])
			}
			if len(missed) > 0 {
				line += "; missed with seeds " + strings.Join(missed, ",")
				for _, r := range reasons {
					line += "\n\t" + r
				}
			}
			// Printed, not logged, so that `make sweep` can collect the
			// lines of every track from one go test run.
			fmt.Println(line)
		})
	}
}

// missReason is one line on why a seed missed: the verdict, the first
// checker that disagreed and, in process mode, the grader's own lag.
func missReason(why string, rep *maelstrom.Report) string {
	for _, res := range rep.Results {
		if res.Valid != checker.Valid {
			why += "; " + res.Checker + ": " + res.Summary
			break
		}
	}
	if len(why) > 300 {
		why = why[:300] + "…"
	}
	if l := rep.Lag; l != nil {
		why += fmt.Sprintf(" (grader scheduling lag p99 %v, max %v)", l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond))
	}
	return why
}

// withSeed returns args with --seed set to seed, replacing any --seed.
func withSeed(args []string, seed uint64) []string {
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		if args[i] == "--seed" && i+1 < len(args) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--seed", fmt.Sprint(seed))
}

// trackName is the name of the directory that holds stagesFile.
func trackName(stagesFile string) string {
	if abs, err := filepath.Abs(stagesFile); err == nil {
		return filepath.Base(filepath.Dir(abs))
	}
	return stagesFile
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

// Column is one figure of a SweepTable: its heading, how it prints
// (a fmt verb for a float64, e.g. "%.3f") and whether the table shows the
// worst (largest) value over the seeds instead of the mean.
type Column struct {
	Name   string
	Format string
	Max    bool
}

// SweepTable gathers a track's own figures per stage over the seeds of a
// sweep and, when the test ends, logs them as the Markdown table a lesson
// quotes: one row per stage, with how many seeds met its expectation and
// the mean (or worst) of each column. Outside a sweep it logs nothing.
type SweepTable struct {
	cols  []Column
	rows  map[string]*sweepRow
	order []string
}

type sweepRow struct {
	expect string
	n      int
	vals   []float64
}

// NewSweepTable returns a table that logs itself when t ends.
func NewSweepTable(t *testing.T, cols ...Column) *SweepTable {
	s := &SweepTable{cols: cols, rows: map[string]*sweepRow{}}
	t.Cleanup(func() {
		if Sweeping() {
			t.Log("\n" + s.String())
		}
	})
	return s
}

// Add records one seed's figures for a stage, in column order.
func (s *SweepTable) Add(st stages.Stage, values ...float64) {
	r := s.rows[st.Name]
	if r == nil {
		r = &sweepRow{expect: st.Expect(), vals: make([]float64, len(s.cols))}
		s.rows[st.Name] = r
		s.order = append(s.order, st.Name)
	}
	r.n++
	for i, v := range values[:min(len(values), len(s.cols))] {
		if s.cols[i].Max {
			r.vals[i] = max(r.vals[i], v)
		} else {
			r.vals[i] += v
		}
	}
}

// String renders the table.
func (s *SweepTable) String() string {
	var b strings.Builder
	b.WriteString("| stage | expect | seeds met |")
	sep := "|---|---|---|"
	for _, c := range s.cols {
		b.WriteString(" " + c.Name + " |")
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, name := range s.order {
		r := s.rows[name]
		fmt.Fprintf(&b, "| %s | %s | %d |", name, r.expect, r.n)
		for i, c := range s.cols {
			v := r.vals[i]
			if !c.Max {
				v /= float64(r.n)
			}
			fmt.Fprintf(&b, " "+c.Format+" |", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Details returns the evidence of the checker named name in rep, as the
// type that checker reports; the test fails if the report has no such
// checker or its evidence is of another type.
func Details[T any](t testing.TB, rep *maelstrom.Report, name string) T {
	t.Helper()
	res, ok := rep.Result(name)
	if !ok {
		t.Fatalf("no %s result\n%s", name, rep.Summary())
	}
	d, ok := res.Details.(T)
	if !ok {
		t.Fatalf("%s result carries %T, not %T", name, res.Details, d)
	}
	return d
}
