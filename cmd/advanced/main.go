// Command advanced is the advanced track's node (a distributed hash table,
// Byzantine fault tolerance, and capstones built from earlier tracks): run it
// under the grader with `make track-advanced`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/advanced"
)

func main() { node.Main(advanced.Configure) }
