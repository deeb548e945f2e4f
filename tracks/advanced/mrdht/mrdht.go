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
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/advanced/dht"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer"
)

// DHT is what the capstone needs of a distributed hash table: who owns a
// key (its replicas' nodes, to schedule near them), a replicated put, and
// reads from this node's own copy or from any owner. Chord (below) is
// the track's DHT behind it.
type DHT interface {
	Owners(key string) []string
	Put(ctx context.Context, key string, value []byte) error
	GetLocal(key string) ([]byte, bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Chord is the DHT on the track's Chord ring (package dht). Every node
// joins the ring at init, a restarted one too: it takes its old place
// with the copies it kept in its data directory.
type Chord struct {
	s *dht.Service
	n *node.Node
	r int

	mu      sync.Mutex
	owners  map[string][]string // key -> its replica set, as last looked up
	looking map[string]bool
}

// NewChord attaches a Chord node to n: r replicas per key, kept in the
// node's data directory unless volatile.
func NewChord(n *node.Node, r int, volatile bool) *Chord {
	c := &Chord{n: n, r: r, owners: map[string][]string{}, looking: map[string]bool{}}
	c.s = dht.Attach(n, dht.Config{Replicas: r, Durable: !volatile})
	n.OnInit(func() error { c.s.Start(n.NodeIDs()); return nil })
	return c
}

// Owners returns key's replica set without waiting: the scheduler asks
// under its lock. An unknown key is looked up in the background and has
// no owners until then (its task then runs wherever a worker asks, after
// the locality wait).
func (c *Chord) Owners(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.owners[key]; ok {
		return o
	}
	if !c.looking[key] {
		c.looking[key] = true
		go func() {
			ctx, cancel := context.WithTimeout(c.n.Context(), 5*time.Second)
			defer cancel()
			c.lookup(ctx, key)
			c.mu.Lock()
			delete(c.looking, key)
			c.mu.Unlock()
		}()
	}
	return nil
}

func (c *Chord) lookup(ctx context.Context, key string) {
	o, err := c.s.Owners(ctx, key)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.owners[key] = o[:min(len(o), c.r)]
	c.mu.Unlock()
}

// Put writes key on its replicas, then learns their names.
func (c *Chord) Put(ctx context.Context, key string, value []byte) error {
	b, err := json.Marshal(string(value))
	if err != nil {
		return err
	}
	if _, err := c.s.Put(ctx, key, b); err != nil {
		return fmt.Errorf("dht: put %s: %w", key, err)
	}
	c.lookup(ctx, key)
	return nil
}

func decode(v json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// GetLocal reads this node's own copy of key.
func (c *Chord) GetLocal(key string) ([]byte, bool, error) {
	v, ok := c.s.GetLocal(key)
	if !ok {
		return nil, false, nil
	}
	b, err := decode(v)
	return b, err == nil, err
}

// Get reads key from its replicas.
func (c *Chord) Get(ctx context.Context, key string) ([]byte, error) {
	v, found, _, err := c.s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("dht: no copy of %s", key)
	}
	return decode(v)
}

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
	fs := nodeflags.New("mr-dht")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "nodes holding each split")
	fs.DurationVar(&o.LocalityWait, "locality-wait", o.LocalityWait, "how long a map task waits for a worker holding its split")
	fs.BoolVar(&o.Memory, "memory", false, "keep the DHT's copies in memory only (counter-example: a killed node loses them)")
	sched := fs.String("schedule", "local", "local (map tasks near their split) or anywhere (to whichever worker asks)")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
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
		mo.Input = &input{dht: NewChord(n, o.Replicas, o.Memory), n: n, anywhere: o.Anywhere}
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
