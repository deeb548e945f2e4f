// Command coordinator is the coordinator track's node (distributed
// transactions: totally available transactions, two-phase commit): run it
// under the grader with `make track-coordinator`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/coordinator"
)

func main() { node.Main(coordinator.Configure) }
