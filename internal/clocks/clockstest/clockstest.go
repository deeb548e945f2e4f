// Package clockstest gives tests a physical clock they move by hand, so
// that clock jumps, skew and time going backwards are scripted rather than
// waited for.
package clockstest

import (
	"sync"
	"time"
)

// Manual is a program.Clock that reads the time it was last set to. It is
// safe for concurrent use.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

// NewManual returns a clock that reads t.
func NewManual(t time.Time) *Manual { return &Manual{t: t} }

// Now returns the clock's current reading.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t, forwards or backwards.
func (c *Manual) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock by d, which may be negative.
func (c *Manual) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
