// Package realclock reads the machine's clock directly from the operating
// system. In-process grading runs nodes and grader under testing/synctest,
// whose bubble replaces time.Now, timers and sleeps with a virtual clock
// that moves only when every goroutine in the bubble is blocked. Work that
// keeps a CPU busy (a linearizability search) never lets that clock move,
// so budgets on such work must be measured here, on the real clock.
package realclock

import "time"

// Since is the real time elapsed since start, a value returned by Now.
func Since(start Instant) time.Duration { return time.Duration(Now() - start) }

// Instant is a reading of the real clock, in nanoseconds since the epoch.
type Instant int64

// Deadline is Now plus d.
func Deadline(d time.Duration) Instant { return Now() + Instant(d) }

// Passed reports whether the real clock has reached t.
func (t Instant) Passed() bool { return Now() >= t }
