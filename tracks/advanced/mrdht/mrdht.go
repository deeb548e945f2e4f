// Package mrdht is the advanced track's second capstone: MapReduce whose
// input lives in a DHT. It runs the mapreducer track's coordinator and
// workers (tracks/mapreducer, the same map and reduce tasks of package
// mr) with their input seam set: on submit the coordinator puts every
// split into the DHT under "input/<job>/<split>" (replicated on r nodes)
// and keeps only the names; it hands a map task preferably to a worker
// that owns its split, waiting up to --locality-wait for one to ask
// (delay scheduling); the worker reads the split from its own copy, or
// from an owner when it holds none. Locality, the fraction of map tasks
// run on a node holding their input, is in the coordinator's "job done"
// log lines (maps, local-maps) and in Stats.
package mrdht

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer"
)

// Options are the system's flags.
type Options struct {
	Replicas     int
	LocalityWait time.Duration
	// Anywhere: map tasks go to whichever worker asks first, as in the
	// mapreducer track (for comparison).
	Anywhere bool
	// Memory keeps the DHT's copies in memory only (the counter-example,
	// with --replicas 1): a killed node restarts without them.
	Memory bool
}

const usage = "usage: advanced --system mr-dht [--replicas R] [--locality-wait D] [--schedule local|anywhere] [--memory]"

// ParseArgs reads the system's arguments.
func ParseArgs(args []string) (Options, error) {
	o := Options{Replicas: 3, LocalityWait: 300 * time.Millisecond}
	fs := flag.NewFlagSet("mr-dht", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "nodes holding each split")
	fs.DurationVar(&o.LocalityWait, "locality-wait", o.LocalityWait, "how long a map task waits for a worker holding its split")
	fs.BoolVar(&o.Memory, "memory", false, "keep the DHT's copies in memory only (counter-example: a killed node loses them)")
	sched := fs.String("schedule", "local", "local (map tasks near their split) or anywhere (to whichever worker asks)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("mr-dht: %w (%s)", err, usage)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("mr-dht: unexpected arguments %q (%s)", fs.Args(), usage)
	}
	if o.Replicas < 1 || o.LocalityWait < 0 {
		return o, fmt.Errorf("mr-dht: --replicas must be at least 1, --locality-wait not negative (%s)", usage)
	}
	switch *sched {
	case "local":
	case "anywhere":
		o.Anywhere = true
	default:
		return o, fmt.Errorf("mr-dht: --schedule %q: want local or anywhere", *sched)
	}
	return o, nil
}

// Configure sets up a node of the mr-dht system.
func Configure(n *node.Node, args []string) error {
	return ConfigureCounting(nil)(n, args)
}

// ConfigureCounting is Configure with the coordinator counting into c
// (tests read the locality from it).
func ConfigureCounting(c *mapreducer.Counters) func(*node.Node, []string) error {
	return func(n *node.Node, args []string) error {
		o, err := ParseArgs(args)
		if err != nil {
			return err
		}
		mo := mapreducer.DefaultOptions()
		mo.Counters = c
		mo.Input = &input{dht: NewRing(n, o.Replicas, 16, o.Memory), n: n, anywhere: o.Anywhere}
		mo.LocalityWait = o.LocalityWait
		return mapreducer.ConfigureWith(n, mo)
	}
}

// input is the mapreducer's InputStore on the DHT.
type input struct {
	dht      DHT
	n        *node.Node
	anywhere bool
}

func splitKey(job, split string) string { return "input/" + job + "/" + split }

func (in *input) Store(ctx context.Context, job string, splits []mapreducer.SplitMsg) error {
	errs := make(chan error, len(splits))
	for _, s := range splits {
		go func() { errs <- in.dht.Put(ctx, splitKey(job, s.Name), []byte(s.Text)) }()
	}
	var first error
	for range splits {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (in *input) Holders(job, split string) []string {
	if in.anywhere {
		return in.n.NodeIDs() // every worker counts as near: no preference
	}
	return in.dht.Owners(splitKey(job, split))
}

func (in *input) Load(ctx context.Context, job, split string) (string, bool, error) {
	key := splitKey(job, split)
	if v, ok, err := in.dht.GetLocal(key); err == nil && ok {
		return string(v), true, nil
	}
	v, err := in.dht.Get(ctx, key)
	return string(v), false, err
}
