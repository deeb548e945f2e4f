package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// Pauser is implemented by an Env that can pause nodes: SIGSTOP and
// SIGCONT for processes, a closed program.Gate for in-process nodes.
type Pauser interface {
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
}

// Pause freezes nodes (SIGSTOP) and later lets them continue (SIGCONT).
// A paused node keeps its memory and its connections but takes no input,
// sends nothing and runs no timers, so to its peers it looks dead, and
// then comes back with everything it knew, including leases and
// leadership that expired meanwhile. Each start picks one random node or
// a random minority.
type Pause struct {
	paused []string
}

// Name returns "pause".
func (*Pause) Name() string { return "pause" }

// Start pauses the chosen nodes; the value lists them.
func (p *Pause) Start(ctx context.Context, env Env, rng *rand.Rand) (string, any, error) {
	pz, ok := env.(Pauser)
	if !ok {
		return "pause", nil, errors.New("this runner cannot pause nodes")
	}
	p.paused = pickNodes(env.Nodes(), rng)
	for _, id := range p.paused {
		if err := pz.Pause(ctx, id); err != nil {
			return "pause", p.paused, fmt.Errorf("pause %s: %w", id, err)
		}
	}
	return "pause", p.paused, nil
}

// Stop resumes the paused nodes; the value lists them.
func (p *Pause) Stop(ctx context.Context, env Env) (string, any, error) {
	paused := p.paused
	p.paused = nil
	pz, ok := env.(Pauser)
	if !ok {
		return "resume", paused, errors.New("this runner cannot pause nodes")
	}
	var errs []error
	for _, id := range paused {
		if err := pz.Resume(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", id, err))
		}
	}
	return "resume", paused, errors.Join(errs...)
}

// pickNodes chooses one random node or a random minority (at least one),
// sorted: the victims of a kill or pause step.
func pickNodes(all []string, rng *rand.Rand) []string {
	nodes := slices.Clone(all)
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	n := 1
	if rng.IntN(2) == 1 {
		n = max(1, (len(nodes)-1)/2)
	}
	out := nodes[:n]
	sort.Strings(out)
	return out
}
