package maelstrom

import (
	"context"
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
			var sim, wall time.Duration
			for range b.N {
				start := time.Now()
				var rep *Report
				synctest.Test(&testing.T{}, func(t *testing.T) {
					rep, err = Run(context.Background(), opts, InProcess{Program: testnodes.Broadcast(false, false)})
				})
				wall += time.Since(start)
				if err != nil || rep.Crash != nil {
					b.Fatalf("run: %v", err)
				}
				sim += rep.SimDuration
			}
			b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim/wall")
		})
	}
}
