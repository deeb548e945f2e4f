// Package mapreducer is the reference solution of the mapreducer track: a
// MapReduce service and a stream processor, as Maelstrom nodes.
//
// For the grader's mapreduce workload, node n0 is the coordinator and the
// other nodes are workers (coordinator.go, worker.go): the coordinator
// splits each job into map and reduce tasks and leases them to workers
// that ask for work; map output stays on the map worker, partitioned by
// reducer, until the reduce tasks fetch it; expired leases and lost map
// output are re-executed, stragglers get backup tasks, and jobs are kept
// in a write-ahead log so that they survive the coordinator's restart. A
// single node runs each job with the local engine (package mr).
//
// For the stream workload (streamnode.go, package stream) the node counts
// words in event-time windows and writes the results into the grader's
// sink exactly once.
//
// tracks/mapreducer/stages.tsv says how each stage is graded and
// README.md is the lesson.
package mapreducer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
)

// Options configure a node.
type Options struct {
	// Lease is how long a worker may hold a task attempt before the
	// coordinator gives the task to another worker.
	Lease time.Duration
	// BackupAfter: once a job has no task left to hand out, an attempt
	// running longer than this gets a backup attempt on an idle worker
	// (0 turns backup tasks off).
	BackupAfter time.Duration
	// Poll is how often an idle worker asks for a task.
	Poll time.Duration
	// Fetch bounds a reduce worker's wait for one map output.
	Fetch time.Duration
	// Durable keeps the coordinator's jobs in a write-ahead log; without
	// it (the counter-example) a restarted coordinator has forgotten
	// every job it acknowledged.
	Durable bool
	// Mappers is the local engine's parallelism on a single node.
	Mappers int
	// Windows is "event" (event-time windows) or "processing" (the
	// counter-example: windows by arrival time).
	Windows string
	// Delivery is "exactly-once" (checkpointed input position, so a
	// redelivered batch is recognised) or "at-least-once" (the
	// counter-example: every delivery is processed).
	Delivery string
	// Counters, if set, counts the coordinator's fault handling (tests
	// read it; every node of an in-process run may share one).
	Counters *Counters
	// Input, if set, keeps jobs' input out of the task messages: the
	// coordinator stores each job's splits in it before acknowledging
	// the job and forgets their text, map tasks are handed preferably to
	// a node holding their split, and the worker reads the split from it
	// (the advanced track's MapReduce on a DHT). Needs workers: a single
	// node runs jobs with the local engine, from the text.
	Input InputStore
	// LocalityWait is how long an idle map task waits for a node holding
	// its split to ask for work before any worker may run it (with Input).
	LocalityWait time.Duration
}

// InputStore is where jobs' input lives when it is not carried in the
// task messages (Options.Input).
type InputStore interface {
	// Store puts a job's splits where they live; once it returns, every
	// split can be loaded.
	Store(ctx context.Context, job string, splits []SplitMsg) error
	// Holders are the nodes that hold a split: its map task runs there
	// if one of them asks for work in time.
	Holders(job, split string) []string
	// Load reads a split on the node running its map task; local says
	// whether this node had it.
	Load(ctx context.Context, job, split string) (text string, local bool, err error)
}

// Counters count what a coordinator did about faults.
type Counters struct {
	Reexecuted atomic.Int64 // attempts whose lease ran out, their task handed out again
	LostMaps   atomic.Int64 // finished maps run again because a reducer could not fetch their output
	Backups    atomic.Int64 // backup attempts of stragglers
	Jobs       atomic.Int64 // jobs finished
	Recovered  atomic.Int64 // jobs (finished or not) a restarted coordinator found in its log
	Maps       atomic.Int64 // map tasks finished (the first attempt to report each time)
	LocalMaps  atomic.Int64 // of those, the ones run on a node holding their split (with Input)
}

// ConfigureWith sets a node up with o (another system building on this
// track's coordinator and workers sets Input).
func ConfigureWith(n *node.Node, o Options) error { return configure(n, o) }

// DefaultOptions are the settings the stages use unless they say otherwise.
func DefaultOptions() Options {
	return Options{Lease: time.Second, BackupAfter: 300 * time.Millisecond, Poll: 50 * time.Millisecond,
		Fetch: 400 * time.Millisecond, Durable: true, Mappers: 4, Windows: "event", Delivery: "exactly-once"}
}

const usage = "usage: mapreducer [--lease D] [--backup-after D] [--poll D] [--fetch D] [--durable=false] [--mappers N] [--windows event|processing] [--delivery exactly-once|at-least-once]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("mapreducer")
	fs.DurationVar(&o.Lease, "lease", o.Lease, "how long a worker may hold a task attempt")
	fs.DurationVar(&o.BackupAfter, "backup-after", o.BackupAfter, "age of an attempt that gets a backup when nothing else is left (0: no backups)")
	fs.DurationVar(&o.Poll, "poll", o.Poll, "how often an idle worker asks for a task")
	fs.DurationVar(&o.Fetch, "fetch", o.Fetch, "how long a reducer waits for one map output")
	fs.BoolVar(&o.Durable, "durable", o.Durable, "keep the coordinator's jobs in a write-ahead log")
	fs.IntVar(&o.Mappers, "mappers", o.Mappers, "map goroutines of the local engine (single node)")
	fs.StringVar(&o.Windows, "windows", o.Windows, "stream windows by event time (event) or arrival time (processing)")
	fs.StringVar(&o.Delivery, "delivery", o.Delivery, "stream input handling: exactly-once or at-least-once")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if o.Lease <= 0 || o.Poll <= 0 || o.Fetch <= 0 || o.BackupAfter < 0 || o.Mappers < 1 {
		return o, fmt.Errorf("mapreducer: --lease, --poll, --fetch and --mappers must be positive, --backup-after not negative (%s)", usage)
	}
	if o.Windows != "event" && o.Windows != "processing" {
		return o, fmt.Errorf("mapreducer: --windows %q: want event or processing", o.Windows)
	}
	if o.Delivery != "exactly-once" && o.Delivery != "at-least-once" {
		return o, fmt.Errorf("mapreducer: --delivery %q: want exactly-once or at-least-once", o.Delivery)
	}
	return o, nil
}

// Configure sets a node up from its command-line arguments: it serves both
// workloads (the grader's requests tell which one runs).
func Configure(n *node.Node) error { return ConfigureCounting(nil)(n) }

// ConfigureCounting is Configure with the coordinator counting into c.
func ConfigureCounting(c *Counters) func(*node.Node) error {
	return func(n *node.Node) error {
		o, err := ParseArgs(n.Args())
		if err != nil {
			return err
		}
		o.Counters = c
		return configure(n, o)
	}
}

func configure(n *node.Node, o Options) error {
	if o.Counters == nil {
		o.Counters = &Counters{}
	}
	newCoordinator(n, o)
	newWorker(n, o)
	newStreamNode(n, o)
	return nil
}
