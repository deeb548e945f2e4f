// Command messenger is the messenger track's node: run it under the grader
// with `make track-messenger`, or by hand with `--stage init|echo|errors`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/messenger"
)

func main() { node.Main(messenger.Configure) }
