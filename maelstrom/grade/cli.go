package grade

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// GradeUsage is the help of `maelstrom grade`.
const GradeUsage = `usage: maelstrom grade --track T[,T...] [flags] SUBMISSION...
       maelstrom grade --track T --plan      (list the stages and which run alone)

Grades each SUBMISSION (a node binary, or a directory built into one) against
the stages of tracks/<T>/stages.tsv, as processes in real time, and writes
results.json (Gradescope's autograder format), junit.xml and grade.json, one
test per stage, with each run's report.html under store/. One submission
writes into --out; several write into --out/<name>/.
Exit code: 0 when every stage passed, 1 when one did not, 254 bad arguments.

flags:
  --track LIST         tracks to grade (required; repeatable or comma separated)
  --stage LIST         only these stages ("stage" or "track/stage")
  --tracks-dir DIR     where the tracks' stages.tsv live (tracks)
  --out DIR            results directory (grades)
  --jobs N             stages graded at once (1); latency-sensitive stages
                       always run alone
  --build CMD          shell command that builds a directory submission
                       (default: go build -o NODE . when it has a go.mod)
  --bin-name NODE      the binary's path inside a directory submission (node)
  --name NAME          the submission's name (default: its file or directory name)
  --max-time-limit S   cap every stage's --time-limit at S seconds
  --seed N             seed for stages that give none (default: random, recorded)
`

// MergeUsage is the help of `maelstrom merge-results`.
const MergeUsage = `usage: maelstrom merge-results [--format md|csv] PATH...

Combines Gradescope results.json files (given, or found under directories)
into one class table: a row per submission, a column per stage, and totals.
`

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// Main is `maelstrom grade`; it returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var tracks, only listFlag
	fs.Var(&tracks, "track", "")
	fs.Var(&only, "stage", "")
	tracksDir := fs.String("tracks-dir", "tracks", "")
	out := fs.String("out", "grades", "")
	jobs := fs.Int("jobs", 1, "")
	buildCmd := fs.String("build", "", "")
	binName := fs.String("bin-name", "node", "")
	name := fs.String("name", "", "")
	maxLimit := fs.Float64("max-time-limit", 0, "")
	seed := fs.Uint64("seed", 0, "")
	plan := fs.Bool("plan", false, "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, GradeUsage)
			return 0
		}
		fmt.Fprintf(stderr, "maelstrom grade: %v\n%s", err, GradeUsage)
		return 254
	}
	if len(tracks) == 0 {
		fmt.Fprintf(stderr, "maelstrom grade: --track is required\n%s", GradeUsage)
		return 254
	}
	items, err := LoadItems(*tracksDir, tracks, only)
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom grade: %v\n", err)
		return 254
	}
	if *plan {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "track\tstage\texpect\truns\twhy")
		for _, it := range items {
			runs := "shared"
			if it.Alone {
				runs = "alone"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Track, it.Stage.Name, expect(it.Stage), runs, it.Why)
		}
		tw.Flush()
		return 0
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "maelstrom grade: name at least one submission\n%s", GradeUsage)
		return 254
	}
	if *name != "" && fs.NArg() > 1 {
		fmt.Fprintln(stderr, "maelstrom grade: --name needs exactly one submission")
		return 254
	}
	var subs []Submission
	for _, p := range fs.Args() {
		n := *name
		if n == "" {
			n = filepath.Base(filepath.Clean(p))
		}
		subs = append(subs, Submission{Name: n, Path: p, Build: *buildCmd, BinName: *binName})
	}
	cfg := Config{Items: items, Jobs: *jobs, Out: *out, Progress: stderr, Seed: *seed,
		MaxTimeLimit: time.Duration(*maxLimit * float64(time.Second))}
	results, err := Grade(ctx, cfg, subs)
	if err != nil && results == nil {
		fmt.Fprintf(stderr, "maelstrom grade: %v\n", err)
		return 254
	}
	code := 0
	for _, r := range results {
		fmt.Fprintf(stdout, "%s: %d of %d stages passed; results in %s\n", r.Submission, r.Passed(), len(r.Stages), r.Dir)
		for _, s := range r.Stages {
			if !s.Passed {
				fmt.Fprintf(stdout, "  FAIL %s: %s\n", s.Name(), s.Why)
				if s.Report != "" {
					fmt.Fprintf(stdout, "       report: %s\n", s.Report)
				}
			}
		}
		if r.Passed() < len(r.Stages) {
			code = 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom grade: %v\n", err)
		return 255
	}
	return code
}

// MergeMain is `maelstrom merge-results`; it returns the exit code.
func MergeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge-results", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "md", "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, MergeUsage)
			return 0
		}
		fmt.Fprintf(stderr, "maelstrom merge-results: %v\n%s", err, MergeUsage)
		return 254
	}
	if fs.NArg() == 0 || (*format != "md" && *format != "csv") {
		fmt.Fprint(stderr, MergeUsage)
		return 254
	}
	t, err := Merge(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom merge-results: %v\n", err)
		return 255
	}
	if *format == "csv" {
		if err := t.WriteCSV(stdout); err != nil {
			fmt.Fprintf(stderr, "maelstrom merge-results: %v\n", err)
			return 255
		}
		return 0
	}
	t.WriteMarkdown(stdout)
	return 0
}
