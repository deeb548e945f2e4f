package program

import (
	"context"
	"sync"
)

// Gate is the in-process stand-in for SIGSTOP and SIGCONT. A runner that
// pauses a node closes the gate; the node's runtime calls Wait before it
// handles an input line and before a timer's callback runs, so a paused
// node neither receives nor acts on time until the gate opens again. A nil
// *Gate is always open, so programs run unchanged without one.
type Gate struct {
	mu     sync.Mutex
	closed bool
	open   chan struct{} // closed while the gate is open
}

// NewGate returns an open gate.
func NewGate() *Gate {
	g := &Gate{open: make(chan struct{})}
	close(g.open)
	return g
}

// Pause closes the gate: Wait blocks from now on.
func (g *Gate) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.open = make(chan struct{})
	}
}

// Resume opens the gate and releases every waiter.
func (g *Gate) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
}

// Paused reports whether the gate is closed.
func (g *Gate) Paused() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// Wait returns at once while the gate is open; while it is closed it
// blocks until Resume or until ctx ends, returning ctx's error then. It
// waits on a channel only, so under testing/synctest a paused node is
// durably blocked and virtual time moves on without it.
func (g *Gate) Wait(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	open, closed := g.open, g.closed
	g.mu.Unlock()
	if !closed {
		return nil // the common case, without a select
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
