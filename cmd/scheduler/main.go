// Command scheduler is the scheduler track's node (a job scheduler on the
// watcher's coordination service): run it under the grader with
// `make track-scheduler`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/scheduler"
)

func main() { node.Main(scheduler.Configure) }
