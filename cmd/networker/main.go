// Command networker serves the networker track's RPC service on a loopback
// port, or grades any such server with the net-rpc workload:
//
//	networker --addr 127.0.0.1:0            # prints "listening on ADDR"
//	networker check --addr ADDR --duration 5s
//	networker node                          # a grader node: init on stdin/stdout, RPC on $NETRPC_ADDR
//
// The logic lives in package networker; see its lesson README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/distsys-curriculum/distsys/tracks/networker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "node" {
		code = networker.NodeMain(ctx, os.Args[2:]) // a grader node: see NodeProgram
	} else {
		code = networker.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
