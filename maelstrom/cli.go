package maelstrom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// Usage is the help text of the command line tool.
func Usage() string {
	return `usage: maelstrom test -w WORKLOAD --bin PATH [flags] [-- node args...]
       maelstrom invalid-checkers RESULTS.json   (the checkers a stored run failed, one per line)
       maelstrom grade --track T SUBMISSION...   (grade submissions; see maelstrom grade --help)
       maelstrom merge-results PATH...           (combine graded results into a class table)
       maelstrom serve [--store DIR]             (browse past runs over HTTP on localhost)
       maelstrom help

Runs the nodes at PATH, drives them with WORKLOAD and checks the outcome.
Each node process runs in a process group of its own: kill, pause and the
end of the run reach everything it started. A node's stdout line may be at
most 16 MiB; the grader keeps the first 8 MiB of each node's stderr.
Exit code: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 crash.

flags (defaults as in Maelstrom):
  -w, --workload NAME         ` + strings.Join(workload.Names(), ", ") + ` (lin-kv)
  --bin PATH                  the node executable (required)
  --node-count N              nodes n0..n(N-1) (5)
  --nodes IDS                 explicit node ids, comma separated (n1,n2,n3); sets the node count
  --time-limit S              seconds of client operations (60)
  --rate R                    mean operations per second over all clients (5; 0: none)
  --concurrency C             clients: a number, or Kn for K per node (1n)
  --latency MS                mean one-way latency between nodes (0)
  --latency-dist D            constant, uniform or exponential (constant)
  --nemesis LIST              faults, comma separated: ` + strings.Join(nemesis.Names, ", ") + `
  --nemesis-interval S        mean seconds between fault steps (10)
  --topology T                broadcast: ` + strings.Join(workload.Topologies, ", ") + ` (grid)
  --availability A            total, or the fraction of operations that must succeed; majority[:F]:
                              that fraction (0.9) of ops sent to majority-side nodes during partitions
  --consistency-models L      txn workloads (strict-serializable)
  --key-count N               txn and kafka keys (10)
  --max-txn-length N          txn workloads (4)
  --max-writes-per-key N      txn and kafka (16)
  --recovery-time S           quiet seconds after healing, before final reads (10)
  --seed N                    replay a run: same operations and fault schedule (random by default; printed in the summary)
  --store DIR                 where results go (store)
  --test-count N              repeat the test N times (next seeds), stopping at the first that does not pass (1)
  --log-stderr                echo node stderr to the console
  --log-net-send              print every message as it is sent
  --log-net-recv              print every message as it is delivered
  --strict-protocol           a line a node prints that is not a valid message from that node fails
                              the run (by default it is dropped and reported, as Maelstrom does)
  --exercise LIST             faults the run must have exercised (kill, partition, pause, clock,
                              corrupt); a run whose nemesis never did so is unknown, not valid
  --node-memory MB            each node process's address space limit (8192; 0: the grader's own)
  --node-open-files N         each node process's open file limit (4096; 0: the grader's own)
  --node-processes N          process limit of each node (RLIMIT_NPROC, counted per user; 4096; 0: none)
  --id-order per-node         unique-ids: also check each node's ids strictly increase
  --timestamps K              clocks: demand wall, lamport, vector or hlc timestamps (inferred)
  --clock-skew MS             clock nemesis: offsets up to ±MS (300)
  --clock-drift PPM           clock nemesis: drift up to ±PPM parts per million (100)
  --byzantine-count N         byzantine nemesis: how many nodes lie (f = (n-1)/3)
  --byzantine-lies LIST       byzantine nemesis: forge,replay,equivocate,mutate,resign,silence,malformed,tamper,tamper-resign (all), truth
workload flags (only with their workload; default in parentheses):
` + workload.FlagUsage() + `Arguments after the flags (or after --) are passed to every node.
`
}

// Main is the command line tool: it returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, Usage())
		if len(args) == 0 {
			return 254
		}
		return 0
	}
	if args[0] == "invalid-checkers" {
		return invalidCheckersMain(args[1:], stdout, stderr)
	}
	if args[0] != "test" {
		fmt.Fprintf(stderr, "unknown command %q; the commands are %s\n", args[0], strings.Join(Commands, ", "))
		return 254
	}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" {
			fmt.Fprint(stdout, Usage())
			return 0
		}
	}
	opts, err := ParseArgs(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom: %v\n", err)
		return 254
	}
	if opts.Bin == "" {
		fmt.Fprintln(stderr, "maelstrom: expected --bin PATH_TO_BINARY to test")
		return 254
	}
	if st, err := os.Stat(opts.Bin); err != nil || st.IsDir() {
		fmt.Fprintf(stderr, "maelstrom: --bin %s: not an executable file\n", opts.Bin)
		return 254
	}
	if !opts.SeedSet {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	opts.Stderr = stderr
	opts.ProgressEvery = 5 * time.Second
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			opts.ProgressEvery, opts.ProgressTerminal = time.Second, true
		}
	}
	nodes := Binary{Path: opts.Bin, Args: opts.NodeArgs, Limits: opts.NodeLimits, NoLimits: opts.NodeLimits == Limits{}}
	return repeat(ctx, opts, stdout, func(o Options) int { return runOnce(ctx, o, nodes, stdout, stderr) })
}

// repeat runs the test --test-count times, each with the next seed, and
// stops at the first run that does not pass; it returns that run's exit
// code, or 0.
func repeat(ctx context.Context, opts Options, stdout io.Writer, run func(Options) int) int {
	count := max(opts.TestCount, 1)
	for i := range count {
		if count > 1 {
			fmt.Fprintf(stdout, "=== test %d of %d (seed %d)\n", i+1, count, opts.Seed)
		}
		if code := run(opts); code != 0 || ctx.Err() != nil {
			if count > 1 {
				fmt.Fprintf(stdout, "stopped at test %d of %d, which did not pass (exit %d)\n", i+1, count, code)
			}
			return code
		}
		opts.Seed++
	}
	if count > 1 {
		fmt.Fprintf(stdout, "all %d tests passed\n", count)
	}
	return 0
}

// Commands are the commands of the command line tool.
var Commands = []string{"test", "grade", "merge-results", "serve", "invalid-checkers", "help"}

func runOnce(ctx context.Context, opts Options, nodes Nodes, stdout, stderr io.Writer) int {
	rep, err := Run(ctx, opts, nodes)
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "maelstrom: %v\n", err)
		return 254
	}
	if rep == nil {
		fmt.Fprintf(stderr, "maelstrom: %v\n", err)
		return 255
	}
	fmt.Fprint(stdout, rep.Summary())
	if err != nil {
		fmt.Fprintf(stderr, "maelstrom: %v\n", err)
	}
	return rep.ExitCode()
}
