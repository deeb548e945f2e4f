// Command logger is the logger track's node (a kafka-style log on the
// write-ahead log): run it under the grader with `make track-logger`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/logger"
)

func main() { node.Main(logger.Configure) }
