// Command watcher is the watcher track's node (a coordination service on
// Raft): run it under the grader with `make track-watcher`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/watcher"
)

func main() { node.Main(watcher.Configure) }
