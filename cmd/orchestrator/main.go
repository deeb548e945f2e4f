// Command orchestrator is the orchestrator track's node (a machine of a
// small Kubernetes on the watcher's coordination service): run it under
// the grader with `make track-orchestrator`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/orchestrator"
)

func main() { node.Main(orchestrator.Configure) }
