// Command elector is the elector track's node (Raft leader election): run
// it under the grader with `make track-elector`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/elector"
)

func main() { node.Main(elector.Configure) }
