// Command reactor is the reactor track's node (an event store of bank
// accounts on Raft): run it under the grader with `make track-reactor`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/reactor"
)

func main() { node.Main(reactor.Configure) }
