// Command sharder is the sharder track's node (a sharded key-value store:
// a shard controller and replica groups, each on Raft): run it under the
// grader with `make track-sharder`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/sharder"
)

func main() { node.Main(sharder.Configure) }
