// Package queues is the reference solution of the queues track: message
// queues and their delivery guarantees.
//
// One binary serves two workloads. With --kafka local|kv|owned it is a
// Kafka-style log for Maelstrom's kafka workload (Gossip Glomers 5a-5c,
// kafka.go). Otherwise it is an SQS-style queue service for the grader's
// queue workload (machine.go, server.go): send with a de-duplication id,
// receive with a visibility timeout and a receipt per delivery, ack,
// extend, FIFO message groups; --delivery chooses at-most-once,
// at-least-once or exactly-once. The queue is a replicated state machine
// on internal/raftnode (as the store track's map is), so on three nodes it
// survives kills and partitions, and on one node it is a durable Raft log
// of one.
//
// tracks/queues/stages.tsv says how each stage is graded and README.md is
// the lesson.
package queues

import (
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// Options configure a node.
type Options struct {
	// Kafka selects the kafka workload's log and how it is kept: local,
	// kv or owned; "" serves the queue workload.
	Kafka string
	// Delivery is the queue's guarantee.
	Delivery Delivery
	// Replicate is raft (the queue is a state machine on Raft) or none (a
	// single node's journal on internal/wal with group commit).
	Replicate string
	Raft      raftnode.Config
	// Deadline bounds how long a node works on one client request; it
	// stays below the clients' 1 s timeout so that they get an answer.
	Deadline time.Duration
}

// DefaultOptions: the queue workload, at least once, the store track's
// Raft settings (50 ms ticks, pre-vote, check-quorum, a snapshot every
// 1000 entries).
func DefaultOptions() Options {
	return Options{
		Delivery: AtLeastOnce, Replicate: "raft",
		Raft:     raftnode.DefaultConfig(),
		Deadline: 900 * time.Millisecond,
	}
}

const usage = "usage: queues [--kafka local|kv|owned] [--delivery at-most-once|at-least-once|exactly-once] [--replicate raft|none] [--deadline D] [raft flags]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("queues")
	o.Raft.RegisterFlags(fs)
	fs.StringVar(&o.Kafka, "kafka", "", "serve Maelstrom's kafka workload: local (one node, in memory), kv (logs in lin-kv) or owned (each key's log on its owner node)")
	delivery := fs.String("delivery", string(o.Delivery), "the queue's guarantee: at-most-once, at-least-once or exactly-once")
	fs.StringVar(&o.Replicate, "replicate", o.Replicate, "raft (a replicated state machine) or none (one node, its own write-ahead log)")
	fs.DurationVar(&o.Deadline, "deadline", o.Deadline, "how long a node works on one client request")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch o.Kafka {
	case "", "local", "kv", "owned":
	default:
		return o, fmt.Errorf("queues: --kafka %q: want local, kv or owned", o.Kafka)
	}
	if o.Replicate != "raft" && o.Replicate != "none" {
		return o, fmt.Errorf("queues: --replicate %q: want raft or none", o.Replicate)
	}
	switch d := Delivery(*delivery); d {
	case AtMostOnce, AtLeastOnce, ExactlyOnce:
		o.Delivery = d
	default:
		return o, fmt.Errorf("queues: --delivery %q: want at-most-once, at-least-once or exactly-once", *delivery)
	}
	return o, nil
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	switch o.Kafka {
	case "local":
		setupKafka(n, newMemLogs(), o.Deadline)
	case "kv":
		setupKafka(n, kvLogs{kv: node.NewKV(n, "lin-kv")}, o.Deadline)
	case "owned":
		setupKafka(n, ownedLogs{n: n, mine: newMemLogs()}, o.Deadline)
	default:
		SetupQueue(n, o)
	}
	return nil
}
