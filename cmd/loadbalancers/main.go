// Command loadbalancers is the loadbalancers track's node (a load balancer
// in front of the grader's backends): run it under the grader with
// `make track-loadbalancers`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers"
)

func main() { node.Main(loadbalancers.Configure) }
