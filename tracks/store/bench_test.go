package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// BenchmarkCommittedOps runs the store in-process in real time under
// lin-kv with as many requests as 2n clients can make, and reports the
// commands committed through the log per second (writes, and cas whether
// or not its precondition held: both are log entries) and all successful
// operations per second.
//
//	go test -run '^$' -bench CommittedOps -benchtime 1x ./tracks/store/
func BenchmarkCommittedOps(b *testing.B) {
	for _, nodes := range []int{3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			for range b.N {
				opts, err := maelstrom.ParseArgs([]string{"-w", "lin-kv", "--node-count", fmt.Sprint(nodes),
					"--time-limit", "5", "--rate", "5000", "--concurrency", "2n", "--seed", "1"})
				if err != nil {
					b.Fatal(err)
				}
				opts.StoreDir = ""
				rep, err := maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: node.Program(Configure)})
				if err != nil || rep.Crash != nil {
					b.Fatalf("run: %v %v", err, rep.Crash)
				}
				committed, okOps := 0, 0
				for _, op := range rep.History {
					if op.Process < 0 || op.Type == history.Invoke {
						continue
					}
					if op.Type == history.OK {
						okOps++
					}
					if op.F != "read" && (op.Type == history.OK || op.Error != nil && (op.Error.Code == 20 || op.Error.Code == 22)) {
						committed++
					}
				}
				secs := opts.TimeLimit.Seconds()
				b.ReportMetric(float64(committed)/secs, "committed/s")
				b.ReportMetric(float64(okOps)/secs, "ok-ops/s")
				b.ReportMetric(float64(committed)/secs/10, "committed/heartbeat")
				if rep.Valid != "valid" {
					b.Errorf("verdict %s\n%s", rep.Valid, rep.Summary())
				}
			}
		})
	}
}
