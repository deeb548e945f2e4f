// Command loadbalancers is the loadbalancers track's node (a load balancer
// in front of the grader's backends): run it under the grader with
// `make track-loadbalancers`. With l4 or l7 as its first argument it is
// instead a standalone TCP or HTTP balancer, until interrupted:
//
//	loadbalancers l7 --listen 127.0.0.1:8080 --backends 127.0.0.1:9001,127.0.0.1:9002
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "l4" || os.Args[1] == "l7") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if err := loadbalancers.Serve(ctx, os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	node.Main(loadbalancers.Configure)
}
