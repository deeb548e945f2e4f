// Command gossiper is the gossiper track's node: run it under the grader
// with `make track-gossiper`, or by hand with `--strategy flood|tree|gossip`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/gossiper"
)

func main() { node.Main(gossiper.Configure) }
