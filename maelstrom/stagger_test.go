package maelstrom

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// driveStagger runs the dispatch loop's schedule on a fake clock whose
// timers all fire late by lateness, and returns when the last of n ops
// went out, since the start.
func driveStagger(rate float64, n int, lateness time.Duration) time.Duration {
	start := time.Unix(0, 0)
	now := start
	s := newStagger(rand.New(rand.NewPCG(1, 2)), rate, now)
	for range n {
		now = now.Add(s.wait(now) + lateness) // the timer fires late
		s.advance(now)
	}
	return now.Sub(start)
}

// Every timer firing 0.5 ms late (a 1 ms mean gap at --rate 1000) must not
// slow the schedule down: ops keep their intended times.
func TestStaggerDoesNotDrift(t *testing.T) {
	const rate, n = 1000.0, 30000
	onTime := driveStagger(rate, n, 0)
	late := driveStagger(rate, n, 500*time.Microsecond)
	require.InDelta(t, 30*time.Second, onTime, float64(time.Second), "on-time schedule")
	// Late by half a gap each time: the schedule still ends within a few
	// gaps of the on-time one, where re-arming from each firing would
	// take 15 s longer.
	require.InDelta(t, onTime, late, float64(10*time.Millisecond), "late timers moved the schedule")
	delivered := float64(n) / late.Seconds()
	require.InDelta(t, rate, delivered, rate*0.05)
}

// A stall (no free client for 5 s) is not followed by a 5 s burst: the
// schedule falls at most maxLag behind.
func TestStaggerBoundsBacklog(t *testing.T) {
	now := time.Unix(0, 0)
	s := newStagger(rand.New(rand.NewPCG(1, 2)), 100, now)
	now = now.Add(5 * time.Second) // every client was busy
	s.advance(now)
	burst := 0
	for s.wait(now) == 0 {
		s.advance(now)
		burst++
	}
	require.LessOrEqual(t, burst, 150, "ops sent back to back after the stall (1 s of backlog is 100)")
}

// The rate the grader delivers and prints is the rate asked for.
func TestDeliveredRateInSummary(t *testing.T) {
	rep := grade(t, testnodes.Echo(false), "-w", "echo", "--node-count", "2", "--time-limit", "10", "--rate", "500", "--concurrency", "4n")
	require.InDelta(t, 500, rep.DeliveredRate, 25, rep.Summary())
	require.Contains(t, rep.Summary(), "rate: requested 500 ops/s, delivered")
}
