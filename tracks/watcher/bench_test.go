package watcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// BenchmarkWatchService runs the service in-process in real time under
// the watch workload with as many requests as 16 clients can make (4
// each of readers/writers, lockless writers, watchers and sessions), and
// reports successful operations per second, watch delivery latency and
// the ephemeral removal delay.
//
//	go test -run '^$' -bench WatchService -benchtime 1x ./tracks/watcher/
func BenchmarkWatchService(b *testing.B) {
	for _, nodes := range []int{3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			for range b.N {
				opts, err := maelstrom.ParseArgs([]string{"-w", "watch", "--node-count", fmt.Sprint(nodes),
					"--time-limit", "5", "--rate", "5000", "--concurrency", "16", "--seed", "1"})
				if err != nil {
					b.Fatal(err)
				}
				opts.StoreDir = ""
				rep, err := maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: node.Program(Configure)})
				if err != nil || rep.Crash != nil {
					b.Fatalf("run: %v %v", err, rep.Crash)
				}
				okOps := 0
				for _, op := range rep.History {
					if op.Process >= 0 && op.Type == history.OK {
						okOps++
					}
				}
				b.ReportMetric(float64(okOps)/opts.TimeLimit.Seconds(), "ok-ops/s")
				if res, ok := rep.Result("watch"); ok {
					d := res.Details.(checker.WatchDetails)
					b.ReportMetric(ms(d.Latency.P50), "watch-p50-ms")
					b.ReportMetric(ms(d.Latency.P99), "watch-p99-ms")
				}
				if res, ok := rep.Result("ephemeral"); ok {
					d := res.Details.(checker.EphemeralDetails)
					b.ReportMetric(ms(d.Removal.P50), "removal-p50-ms")
					b.ReportMetric(ms(d.Removal.Max), "removal-max-ms")
				}
				if rep.Valid != checker.Valid {
					b.Errorf("verdict %s\n%s", rep.Valid, rep.Summary())
				}
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
