// Command maelstrom is the grader's command line: `maelstrom test` runs a
// node binary against a workload as Jepsen's Maelstrom does, and exits 0
// when the run is valid, 1 invalid, 2 unknown, 254 on bad arguments and
// 255 when a node crashed.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/distsys-curriculum/distsys/maelstrom"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := maelstrom.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
