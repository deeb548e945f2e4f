// Command store is the store track's node (a linearizable key-value store
// on Raft): run it under the grader with `make track-store`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

func main() { node.Main(store.Configure) }
