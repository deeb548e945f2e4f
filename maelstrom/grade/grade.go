// Package grade grades learners' submissions for instructors: each
// submission (a node binary, or a directory built into one) against chosen
// stages of the tracks' stages.tsv files, in process mode as
// `make track-<name>` does, and writes what course platforms read:
// Gradescope's autograder results.json and JUnit XML, one test per stage
// (gradescope.go, junit.go).
//
// Several submissions on one machine share a bounded pool of workers in
// which a latency-sensitive stage always runs alone (sensitive.go). A class
// larger than one machine is split over an existing engine (a CI matrix, a
// Kubernetes Job per submission) and the results files are merged into one
// class table afterwards (merge.go).
package grade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// Submission is one learner's work.
type Submission struct {
	// Name identifies the submission in results; unique within a grading.
	Name string
	// Path is the node binary, or a directory that Build turns into one.
	Path string
	// Build is the shell command run in a directory Path ("" picks one:
	// `go build -o BinName .` when the directory has a go.mod, else none).
	Build string
	// BinName is the binary's path inside a directory Path.
	BinName string
}

// Item is one stage to grade, from one track.
type Item struct {
	Track string
	Stage stages.Stage
	// Alone is set for latency-sensitive stages (LatencySensitive).
	Alone bool
	Why   string
}

// Config says how to grade.
type Config struct {
	Items []Item
	// Jobs bounds the stages graded at once (at least 1).
	Jobs int
	// Out is the results directory: results.json, junit.xml and store/
	// directly in it for one submission, in Out/<name>/ for several.
	Out string
	// MaxTimeLimit caps every stage's --time-limit (0: as in stages.tsv).
	MaxTimeLimit time.Duration
	// Progress receives one line per stage as it ends (nil: none).
	Progress io.Writer
	// Seed, when not 0, replaces the random seed of stages that give none.
	Seed uint64
}

// StageResult is the outcome of one stage for one submission.
type StageResult struct {
	Track   string `json:"track"`
	Stage   string `json:"stage"`
	Expect  string `json:"expect"`
	Passed  bool   `json:"passed"`
	Verdict string `json:"verdict"` // valid, invalid, unknown, crashed or error
	// Why says why a stage did not pass; FirstViolation is the first
	// violation the grader found (for a counter-example, the reason it
	// was rejected).
	Why            string        `json:"why,omitempty"`
	FirstViolation string        `json:"first_violation,omitempty"`
	Report         string        `json:"report,omitempty"` // report.html of the run
	Seed           uint64        `json:"seed"`
	Started        time.Time     `json:"started"`
	Elapsed        time.Duration `json:"elapsed"`
	Alone          bool          `json:"alone"`
}

// Name is track/stage.
func (s StageResult) Name() string { return s.Track + "/" + s.Stage }

// Result is one submission's grading.
type Result struct {
	Submission string        `json:"submission"`
	Dir        string        `json:"dir"` // where its files are
	BuildError string        `json:"build_error,omitempty"`
	Stages     []StageResult `json:"stages"`
	Elapsed    time.Duration `json:"elapsed"`
}

// Passed counts the stages that passed.
func (r Result) Passed() int {
	n := 0
	for _, s := range r.Stages {
		if s.Passed {
			n++
		}
	}
	return n
}

// LoadItems reads the stages to grade: for each track, tracksDir/<track>/
// stages.tsv, keeping only the stages named in only (as "stage" or
// "track/stage"; empty keeps all). A name in only that matches no stage is
// an error, so that a typo never grades nothing.
func LoadItems(tracksDir string, tracks, only []string) ([]Item, error) {
	var items []Item
	used := map[string]bool{}
	for _, tr := range tracks {
		all, err := stages.Load(filepath.Join(tracksDir, tr, "stages.tsv"))
		if err != nil {
			return nil, fmt.Errorf("track %s: %w", tr, err)
		}
		for _, st := range all {
			if len(only) > 0 && !slices.Contains(only, st.Name) && !slices.Contains(only, tr+"/"+st.Name) {
				continue
			}
			used[st.Name], used[tr+"/"+st.Name] = true, true
			opts, err := maelstrom.ParseArgs(st.GraderArgs)
			if err != nil {
				return nil, fmt.Errorf("track %s, stage %s: %w", tr, st.Name, err)
			}
			alone, why := LatencySensitive(opts)
			items = append(items, Item{Track: tr, Stage: st, Alone: alone, Why: why})
		}
	}
	for _, o := range only {
		if !used[o] {
			return nil, fmt.Errorf("no stage %q in tracks %s", o, strings.Join(tracks, ", "))
		}
	}
	if len(items) == 0 {
		return nil, errors.New("no stages to grade")
	}
	return items, nil
}

// Grade grades every submission against every item. Stages run Jobs at a
// time; a latency-sensitive stage waits for the running ones to end and
// runs alone. Each submission's results are written as they complete.
func Grade(ctx context.Context, cfg Config, subs []Submission) ([]Result, error) {
	if cfg.Jobs < 1 {
		cfg.Jobs = 1
	}
	names := map[string]bool{}
	results := make([]Result, len(subs))
	for i, s := range subs {
		if names[s.Name] {
			return nil, fmt.Errorf("two submissions are called %q; give each its own name", s.Name)
		}
		names[s.Name] = true
		dir := cfg.Out
		if len(subs) > 1 {
			dir = filepath.Join(cfg.Out, s.Name)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		results[i] = Result{Submission: s.Name, Dir: dir, Stages: make([]StageResult, len(cfg.Items))}
		for j, it := range cfg.Items {
			results[i].Stages[j] = StageResult{Track: it.Track, Stage: it.Stage.Name, Expect: expect(it.Stage),
				Alone: it.Alone, Verdict: "error", Why: "not graded: the grading was interrupted"}
		}
	}
	start := time.Now()

	bins := make([]string, len(subs))
	for i, s := range subs {
		bin, err := build(ctx, s)
		if err != nil {
			results[i].BuildError = err.Error()
			for j, it := range cfg.Items {
				results[i].Stages[j] = StageResult{Track: it.Track, Stage: it.Stage.Name, Expect: expect(it.Stage),
					Verdict: "error", Why: "the submission did not build: " + err.Error()}
			}
			continue
		}
		bins[i] = bin
	}

	// Shared stages first, then the ones that run alone: interleaving them
	// would drain the pool before each sensitive stage.
	type task struct{ sub, item int }
	var tasks []task
	for _, alone := range []bool{false, true} {
		for i := range subs {
			for j, it := range cfg.Items {
				if bins[i] != "" && it.Alone == alone {
					tasks = append(tasks, task{i, j})
				}
			}
		}
	}
	var (
		exclusive sync.RWMutex // held for writing by a stage that runs alone
		outMu     sync.Mutex
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Jobs)
	for _, tk := range tasks {
		g.Go(func() error {
			it := cfg.Items[tk.item]
			if it.Alone {
				exclusive.Lock()
				defer exclusive.Unlock()
			} else {
				exclusive.RLock()
				defer exclusive.RUnlock()
			}
			if gctx.Err() != nil {
				return gctx.Err()
			}
			r := gradeStage(gctx, cfg, it, bins[tk.sub], filepath.Join(results[tk.sub].Dir, "store"))
			outMu.Lock()
			results[tk.sub].Stages[tk.item] = r
			if cfg.Progress != nil {
				who := ""
				if len(subs) > 1 {
					who = subs[tk.sub].Name + " "
				}
				fmt.Fprintf(cfg.Progress, "%s%-28s %7.1fs  %-4s %s\n", who, r.Name(), r.Elapsed.Seconds(), passWord(r.Passed), r.Verdict)
			}
			outMu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	for i := range results {
		results[i].Elapsed = time.Since(start)
		if werr := WriteFiles(results[i]); werr != nil && err == nil {
			err = werr
		}
	}
	return results, err
}

func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func expect(st stages.Stage) string {
	if st.ExpectPass {
		return "valid"
	}
	if len(st.InvalidBy) > 0 {
		return "invalid:" + strings.Join(st.InvalidBy, ",")
	}
	return "invalid"
}

// gradeStage runs one stage against bin as processes, in real time.
func gradeStage(ctx context.Context, cfg Config, it Item, bin, store string) StageResult {
	st := it.Stage
	r := StageResult{Track: it.Track, Stage: st.Name, Expect: expect(st), Alone: it.Alone}
	opts, err := maelstrom.ParseArgs(st.GraderArgs)
	if err != nil {
		r.Verdict, r.Why = "error", err.Error()
		return r
	}
	opts.StoreDir = store
	if !opts.SeedSet {
		opts.Seed = cfg.Seed
		if opts.Seed == 0 {
			opts.Seed = rand.Uint64()
		}
	}
	if cfg.MaxTimeLimit > 0 {
		opts.TimeLimit = min(opts.TimeLimit, cfg.MaxTimeLimit)
	}
	opts.Stderr = io.Discard
	r.Seed = opts.Seed
	r.Started = time.Now()
	rep, err := maelstrom.Run(ctx, opts, maelstrom.Binary{Path: bin, Args: st.NodeArgs})
	r.Elapsed = time.Since(r.Started)
	if rep == nil {
		r.Verdict, r.Why = "error", fmt.Sprint(err)
		return r
	}
	if rep.StorePath != "" {
		r.Report = filepath.Join(rep.StorePath, "report.html")
	}
	crash := ""
	r.Verdict = string(rep.Valid)
	if rep.Crash != nil {
		crash, r.Verdict = rep.Crash.String(), "crashed"
	}
	r.Passed, r.Why = st.Judge(crash, rep.Valid, rep.Results)
	r.FirstViolation = firstViolation(rep)
	if r.FirstViolation == "" && crash != "" {
		r.FirstViolation = crash
	}
	return r
}

// firstViolation is the first invalid checker's first violation, or its
// summary when it lists none.
func firstViolation(rep *maelstrom.Report) string {
	for _, res := range rep.Results {
		if res.Valid != checker.Invalid {
			continue
		}
		if v := res.First(); v != nil {
			return fmt.Sprintf("%s: %s: %s", res.Checker, v.What, v.Detail)
		}
		return res.Checker + ": " + res.Summary
	}
	return ""
}

// build returns the node binary of a submission, building a directory
// first.
func build(ctx context.Context, s Submission) (string, error) {
	st, err := os.Stat(s.Path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		if st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s is not executable", s.Path)
		}
		return filepath.Abs(s.Path)
	}
	binName := s.BinName
	if binName == "" {
		binName = "node"
	}
	cmdline := s.Build
	if cmdline == "" {
		if _, err := os.Stat(filepath.Join(s.Path, "go.mod")); err == nil {
			cmdline = "go build -o " + binName + " ."
		}
	}
	if cmdline != "" {
		cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
		cmd.Dir = s.Path
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %v\n%s", cmdline, err, tail(string(out), 2000))
		}
	}
	bin := filepath.Join(s.Path, binName)
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("no executable %s in %s after the build (set the binary's name with --bin-name)", binName, s.Path)
	}
	return filepath.Abs(bin)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
