package maelstrom

import (
	"context"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// BenchmarkSimulatedOverWall runs a 20 s broadcast on 25 gossip nodes in
// virtual time and reports simulated seconds per wall second.
func BenchmarkSimulatedOverWall(b *testing.B) {
	for _, rate := range []string{"10", "100"} {
		b.Run("rate="+rate, func(b *testing.B) {
			opts, err := ParseArgs([]string{"-w", "broadcast", "--node-count", "25", "--time-limit", "20",
				"--rate", rate, "--latency", "100", "--seed", "1"})
			if err != nil {
				b.Fatal(err)
			}
			opts.StoreDir = ""
			var sim, wall, cpu time.Duration
			for range b.N {
				start, cpu0 := time.Now(), cpuTime()
				var rep *Report
				synctest.Test(&testing.T{}, func(t *testing.T) {
					rep, err = Run(context.Background(), opts, InProcess{Program: testnodes.Broadcast(false, false)})
				})
				wall += time.Since(start)
				cpu += cpuTime() - cpu0
				if err != nil || rep.Crash != nil {
					b.Fatalf("run: %v", err)
				}
				sim += rep.SimDuration
			}
			b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim/wall")
			// On a shared machine wall time depends on the load; CPU time
			// (user + system, all threads) does not.
			b.ReportMetric(sim.Seconds()/cpu.Seconds(), "sim/cpu")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
