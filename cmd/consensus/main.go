// Command consensus is the consensus track's node (Raft log replication):
// run it under the grader with `make track-consensus`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/consensus"
)

func main() { node.Main(consensus.Configure) }
