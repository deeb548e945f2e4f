// Package nemesis injects faults into a grader run on Maelstrom's
// schedule: faults start at the beginning of the run and then alternate
// stop/start, each step a uniformly random 0..2×interval after the last.
//
// A Fault acts through an Env the runner provides (partition rules, node
// kill and restart), so new faults (kill, pause, clock skew) are a type
// implementing Fault plus a line in Parse. Every step is recorded in the
// history as an :info op of process -1.
package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// Env is what faults may do to a run.
type Env interface {
	Nodes() []string
	// Partition installs drop rules: receiver -> senders it ignores.
	Partition(rules map[string][]string)
	Heal()
	// Kill stops a node abruptly (SIGKILL, or cancelling an in-process
	// node); Restart starts it again with the same data directory and
	// re-sends init. Faults compose: each Kill is a hold on the node that
	// one Restart releases, and the node comes back only with the last
	// release, so a node two faults killed (kill and kill-leader) stays
	// down until both restarted it. Restarting a node no fault holds down
	// is an error.
	Kill(ctx context.Context, node string) error
	Restart(ctx context.Context, node string) error
}

// Fault is one kind of fault. Start and Stop return the history f and
// value describing what they did.
type Fault interface {
	Name() string
	Start(ctx context.Context, env Env, rng *rand.Rand) (f string, value any, err error)
	Stop(ctx context.Context, env Env) (f string, value any, err error)
}

// Names lists the faults Parse accepts.
var Names = []string{"partition", "kill", "pause", "clock", "corrupt", "partition-leader", "kill-leader", "isolate-follower", "byzantine"}

// Parse turns a --nemesis list ("partition" or "a,b") into faults.
func Parse(list string) ([]Fault, error) {
	var out []Fault
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "partition":
			out = append(out, Partition{})
		case "clock":
			out = append(out, Clock{})
		case "kill":
			out = append(out, &Kill{})
		case "pause":
			out = append(out, &Pause{})
		case "partition-leader":
			out = append(out, PartitionLeader{})
		case "kill-leader":
			out = append(out, &KillLeader{})
		case "isolate-follower":
			out = append(out, &IsolateFollower{})
		case "corrupt":
			out = append(out, &Corrupt{})
		case "byzantine":
			out = append(out, &Byzantine{})
		default:
			return nil, fmt.Errorf("unknown nemesis %q (known: %s)", name, strings.Join(Names, ", "))
		}
	}
	return out, nil
}

// Record receives each nemesis step for the history.
type Record func(f string, value any)

// Schedule drives faults over time.
type Schedule struct {
	faults   []Fault
	interval time.Duration
	rng      *rand.Rand
	active   map[int]bool
	begun    bool // Begin took the first step
	last     int  // the fault of the last step
	// Tail, when set, is a quiet end of the run: Run stops every fault
	// Tail before its context's deadline and starts none after, so that
	// the final heal is judged by checks that need time after it.
	Tail time.Duration
}

// NewSchedule returns a schedule; the seed makes it replayable.
func NewSchedule(faults []Fault, interval time.Duration, seed uint64) *Schedule {
	return &Schedule{faults: faults, interval: interval,
		rng: rand.New(rand.NewPCG(seed, 0x6e656d)), active: map[int]bool{}}
}

func (s *Schedule) gap() time.Duration {
	if s.interval <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(2*s.interval) + 1))
}

// Run alternates start and stop for every fault until ctx ends, starting
// immediately, and leaves faults as they are when it returns (StopAll
// heals). With several faults, each step picks one fault.
func (s *Schedule) Run(ctx context.Context, env Env, rec Record) {
	if len(s.faults) == 0 {
		return
	}
	first := time.Duration(0)
	if s.begun {
		first = s.next()
	}
	timer := time.NewTimer(first)
	defer timer.Stop()
	var quiet <-chan time.Time
	var quietAt time.Time
	if dl, ok := ctx.Deadline(); ok && s.Tail > 0 {
		quietAt = dl.Add(-s.Tail)
		qt := time.NewTimer(time.Until(quietAt))
		defer qt.Stop()
		quiet = qt.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-quiet:
			s.StopAll(ctx, env, rec)
			return
		case <-timer.C:
		}
		i := s.rng.IntN(len(s.faults))
		if s.cutShort(i, quietAt) {
			// The quiet tail would stop it before its hold: a
			// partition of the leader shorter than an election
			// timeout tests nothing and leaves a heal that is
			// judged in the middle of its elections. Nothing
			// more starts before the tail.
			timer.Reset(time.Until(quietAt))
			continue
		}
		s.step(ctx, env, rec, i)
		timer.Reset(s.next())
	}
}

// cutShort reports whether starting fault i now would have the quiet tail
// (from quietAt; zero: none) stop it before its Hold.
func (s *Schedule) cutShort(i int, quietAt time.Time) bool {
	h, ok := s.faults[i].(Holder)
	if !ok || s.active[i] || quietAt.IsZero() {
		return false
	}
	return time.Now().Add(h.Hold()).After(quietAt)
}

// next is the gap before the next step: Maelstrom's uniform draw,
// stretched to the last fault's Hold.
func (s *Schedule) next() time.Duration {
	g := s.gap()
	if h, ok := s.faults[s.last].(Holder); ok {
		g = max(g, h.Hold())
	}
	return g
}

// Begin takes the first step now, before the caller starts anything else;
// Run then continues from the second. A runner calls it before the first
// client operation, so that the operation and the fault never race and a
// seed replays both in the same order.
func (s *Schedule) Begin(ctx context.Context, env Env, rec Record) {
	if len(s.faults) == 0 || s.begun {
		return
	}
	s.begun = true
	s.step(ctx, env, rec, s.rng.IntN(len(s.faults)))
}

func (s *Schedule) step(ctx context.Context, env Env, rec Record, i int) {
	s.last = i
	f := s.faults[i]
	var name string
	var value any
	var err error
	if s.active[i] {
		name, value, err = f.Stop(ctx, env)
		delete(s.active, i)
	} else {
		name, value, err = f.Start(ctx, env, s.rng)
		s.active[i] = true
	}
	if err != nil {
		value = fmt.Sprintf("%s failed: %v", name, err)
	}
	rec(name, value)
}

// StopAll stops every active fault (the final phase's heal).
func (s *Schedule) StopAll(ctx context.Context, env Env, rec Record) {
	for i := range s.faults {
		if s.active[i] {
			s.step(ctx, env, rec, i)
		}
	}
}

// Partition cuts the network along one of Maelstrom's grudges.
type Partition struct{}

// Name returns "partition".
func (Partition) Name() string { return "partition" }

// Start picks a grudge and installs it; the value is receiver -> senders
// it ignores. Only shapes that cut something with this many nodes are
// drawn (with 2 nodes: one, majority; with 3: not minority-third), so
// that a partition tests something whenever the node count allows; with
// 4 nodes or more every shape does, and the draws are Maelstrom's.
func (Partition) Start(_ context.Context, env Env, rng *rand.Rand) (string, any, error) {
	specs := GrudgeShapes(len(env.Nodes()))
	if len(specs) == 0 {
		specs = []string{"one"} // a single node: nothing can be cut
	}
	g := Grudge(specs[rng.IntN(len(specs))], env.Nodes(), rng)
	env.Partition(g)
	return "start-partition", g, nil
}

// GrudgeShapes lists the grudge shapes that cut something among n nodes.
func GrudgeShapes(n int) []string {
	var out []string
	for _, s := range []string{"one", "minority-third", "majority", "majorities-ring"} {
		switch {
		case n < 2:
		case s == "minority-third" && (n-1)/3 == 0:
		case s == "majorities-ring" && n < 3:
		default:
			out = append(out, s)
		}
	}
	return out
}

// Stop heals the network.
func (Partition) Stop(_ context.Context, env Env) (string, any, error) {
	env.Heal()
	return "stop-partition", "network-healed", nil
}

// Grudge builds a partition for a spec: one, minority-third, majority or
// majorities-ring. The result maps each receiver to the senders it ignores.
func Grudge(spec string, nodes []string, rng *rand.Rand) map[string][]string {
	shuffled := slices.Clone(nodes)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	n := len(shuffled)
	switch spec {
	case "one":
		if n < 2 {
			return map[string][]string{}
		}
		return complete([][]string{shuffled[:1], shuffled[1:]})
	case "minority-third":
		k := (n - 1) / 3
		if k == 0 {
			return map[string][]string{}
		}
		return complete([][]string{shuffled[:k], shuffled[k:]})
	case "majority":
		return complete([][]string{shuffled[:n/2], shuffled[n/2:]})
	case "majorities-ring":
		// Around a shuffled ring each node keeps the majority window centred
		// on itself: every node sees a majority, no two the same one.
		g := map[string][]string{}
		if n < 3 {
			return g
		}
		keep := n/2 + 1
		for i, me := range shuffled {
			seen := map[string]bool{}
			for d := -(keep - 1) / 2; d <= keep/2; d++ {
				seen[shuffled[((i+d)%n+n)%n]] = true
			}
			for _, o := range shuffled {
				if !seen[o] {
					g[me] = append(g[me], o)
				}
			}
			sort.Strings(g[me])
		}
		return g
	}
	return map[string][]string{}
}

// complete makes every node ignore every node outside its component.
func complete(parts [][]string) map[string][]string {
	g := map[string][]string{}
	for i, p := range parts {
		for _, me := range p {
			for j, q := range parts {
				if i != j {
					g[me] = append(g[me], q...)
				}
			}
			sort.Strings(g[me])
		}
	}
	return g
}

// Kill crashes nodes abruptly (SIGKILL, or cancelling an in-process node)
// and later restarts them with the same data directory, so that only what
// a node wrote to its MAELSTROM_DATA_DIR survives. Each start picks one
// random node or a random minority, so that a majority stays up.
type Kill struct {
	down []string
}

// Name returns "kill".
func (*Kill) Name() string { return "kill" }

// Start kills the chosen nodes; the value lists them.
func (k *Kill) Start(ctx context.Context, env Env, rng *rand.Rand) (string, any, error) {
	k.down = pickNodes(env.Nodes(), rng)
	for _, id := range k.down {
		if err := env.Kill(ctx, id); err != nil {
			return "kill", k.down, fmt.Errorf("kill %s: %w", id, err)
		}
	}
	return "kill", k.down, nil
}

// Stop restarts the killed nodes; the value lists them.
func (k *Kill) Stop(ctx context.Context, env Env) (string, any, error) {
	down := k.down
	k.down = nil
	for _, id := range down {
		if err := env.Restart(ctx, id); err != nil {
			return "restart", down, fmt.Errorf("restart %s: %w", id, err)
		}
	}
	return "restart", down, nil
}
