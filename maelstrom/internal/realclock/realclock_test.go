package realclock

import (
	"testing"
	"testing/synctest"
	"time"
)

// Inside a bubble time.Now stands still while a goroutine computes; the
// real clock must not.
func TestMovesWhileVirtualTimeStandsStill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		virtual := time.Now()
		start := Now()
		for Since(start) < 20*time.Millisecond {
		}
		if !time.Now().Equal(virtual) {
			t.Fatalf("virtual clock moved during a busy loop: the test no longer shows what it means to")
		}
		if Since(start) < 20*time.Millisecond {
			t.Fatalf("real clock did not move")
		}
		if Deadline(10 * time.Millisecond).Passed() {
			t.Fatalf("a deadline 10 ms ahead has already passed")
		}
	})
}
