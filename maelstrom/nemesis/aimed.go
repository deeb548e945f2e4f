package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Faults aimed at a role rather than at random nodes, so that a run
// exercises what a stage is named for on every seed: a partition or kill
// that takes the leader away (every run judges a failover), and a follower
// cut off long enough to campaign on its own (every run needs pre-vote).

// LeaderGuesser is implemented by an Env that can tell which node leads
// right now, from what it sees of the traffic; "" when it cannot tell.
type LeaderGuesser interface {
	Leader() string
}

// Holder is implemented by faults that must last at least Hold, and leave
// the network healthy at least Hold after they stop, for what they test
// to happen and to be judged: the schedule stretches its gaps to it.
type Holder interface {
	Hold() time.Duration
}

// AimedHold is how long an aimed fault lasts at least, and how long the
// run stays healthy after it: several election timeouts of a Raft node
// (500 ms to 1 s in the curriculum's reference), so a new leader is
// elected meanwhile and an isolated node campaigns again and again.
const AimedHold = 3 * time.Second

// leader returns env's guess at the leader, or a random node when it has
// none (at the start of a run, before any election).
func leader(env Env, rng *rand.Rand) (string, bool) {
	if g, ok := env.(LeaderGuesser); ok {
		if l := g.Leader(); l != "" && slices.Contains(env.Nodes(), l) {
			return l, true
		}
	}
	nodes := env.Nodes()
	if len(nodes) == 0 {
		return "", false
	}
	return nodes[rng.IntN(len(nodes))], false
}

// PartitionLeader cuts the leader off from every other node
// ("partition-leader"). In the history it is a partition like the others
// (start-partition, stop-partition); the grudge shows who was cut off.
type PartitionLeader struct{}

// Name returns "partition-leader".
func (PartitionLeader) Name() string { return "partition-leader" }

// Hold returns AimedHold.
func (PartitionLeader) Hold() time.Duration { return AimedHold }

// Start isolates the current leader.
func (PartitionLeader) Start(_ context.Context, env Env, rng *rand.Rand) (string, any, error) {
	l, _ := leader(env, rng)
	others := slices.DeleteFunc(slices.Clone(env.Nodes()), func(n string) bool { return n == l })
	g := complete([][]string{{l}, others})
	env.Partition(g)
	return "start-partition", g, nil
}

// Stop heals the network.
func (PartitionLeader) Stop(_ context.Context, env Env) (string, any, error) {
	env.Heal()
	return "stop-partition", "network-healed", nil
}

// KillLeader kills the current leader and restarts it later
// ("kill-leader"); in the history, kill and restart as for Kill.
type KillLeader struct {
	Kill
}

// Name returns "kill-leader".
func (*KillLeader) Name() string { return "kill-leader" }

// Hold returns AimedHold.
func (*KillLeader) Hold() time.Duration { return AimedHold }

// Start kills the current leader.
func (k *KillLeader) Start(ctx context.Context, env Env, rng *rand.Rand) (string, any, error) {
	l, _ := leader(env, rng)
	k.down = []string{l}
	if err := env.Kill(ctx, l); err != nil {
		return "kill", k.down, fmt.Errorf("kill %s: %w", l, err)
	}
	return "kill", k.down, nil
}

// IsolateFollower cuts one node that is not the leader off from all the
// others for at least AimedHold ("isolate-follower"), then heals. The cut
// off node times out again and again; without pre-vote each time bumps
// its term, and when it returns that term deposes a leader that was never
// in trouble. In the history: start-isolate and stop-isolate, with the
// node.
type IsolateFollower struct {
	node string
}

// Name returns "isolate-follower".
func (*IsolateFollower) Name() string { return "isolate-follower" }

// Hold returns AimedHold.
func (*IsolateFollower) Hold() time.Duration { return AimedHold }

// Start isolates a random node other than the current leader.
func (f *IsolateFollower) Start(_ context.Context, env Env, rng *rand.Rand) (string, any, error) {
	l, _ := leader(env, rng)
	var cands []string
	for _, n := range env.Nodes() {
		if n != l {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return "start-isolate", []string{}, nil
	}
	f.node = cands[rng.IntN(len(cands))]
	others := slices.DeleteFunc(slices.Clone(env.Nodes()), func(n string) bool { return n == f.node })
	env.Partition(complete([][]string{{f.node}, others}))
	return "start-isolate", []string{f.node}, nil
}

// Stop heals the network.
func (f *IsolateFollower) Stop(_ context.Context, env Env) (string, any, error) {
	env.Heal()
	return "stop-isolate", []string{f.node}, nil
}
