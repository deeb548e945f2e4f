// Command maelstrom is the grader's command line: `maelstrom test` runs a
// node binary against a workload as Jepsen's Maelstrom does, and exits 0
// when the run is valid, 1 invalid, 2 unknown, 254 on bad arguments and
// 255 when a node crashed. For instructors and learners around it:
// `maelstrom grade` grades submissions against tracks' stages (package
// maelstrom/grade), `maelstrom merge-results` combines their results into a
// class table, and `maelstrom serve` browses the store over HTTP (package
// maelstrom/serve).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/grade"
	"github.com/distsys-curriculum/distsys/maelstrom/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	args := os.Args[1:]
	var code int
	switch first(args) {
	case "grade":
		code = grade.Main(ctx, args[1:], os.Stdout, os.Stderr)
	case "merge-results":
		code = grade.MergeMain(args[1:], os.Stdout, os.Stderr)
	case "serve":
		code = serve.Main(ctx, args[1:], os.Stdout, os.Stderr)
	default:
		code = maelstrom.Main(ctx, args, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
