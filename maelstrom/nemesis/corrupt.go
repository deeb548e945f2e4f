package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
)

// Corrupter is an Env that can damage a node's data at rest.
type Corrupter interface {
	// CorruptData flips one bit in every non-empty regular file under the
	// node's data directory (recursively): in each file, a byte offset
	// drawn uniformly from [0, size) and a bit from 0..7, both from rng.
	// It returns one line per flip ("wal/00000000000000000001.wal: byte
	// 1234 bit 5"), paths relative to the data directory. The node must be
	// down.
	CorruptData(ctx context.Context, node string, rng *rand.Rand) ([]string, error)
}

// Corrupt is a kill whose victims' disks rot while they are down: each
// start kills one node or a minority, as Kill does, then flips one bit in
// every file of each victim's data directory (Corrupter.CorruptData); stop
// restarts them. A single-node engine must refuse the damage with an
// error, never serve wrong values; a replicated one may repair from its
// peers. The history records "corrupt" and "restart" steps with the nodes
// as value; each flip is written to the node's log.
type Corrupt struct{ Kill }

// Name returns "corrupt".
func (*Corrupt) Name() string { return "corrupt" }

// Start kills the chosen nodes and corrupts their data.
func (c *Corrupt) Start(ctx context.Context, env Env, rng *rand.Rand) (string, any, error) {
	cr, ok := env.(Corrupter)
	if !ok {
		return "corrupt", nil, errors.New("this runner cannot corrupt node data")
	}
	_, down, err := c.Kill.Start(ctx, env, rng)
	if err != nil {
		return "corrupt", down, err
	}
	for _, id := range c.down {
		if _, err := cr.CorruptData(ctx, id, rng); err != nil {
			return "corrupt", down, fmt.Errorf("corrupt %s: %w", id, err)
		}
	}
	return "corrupt", down, nil
}
