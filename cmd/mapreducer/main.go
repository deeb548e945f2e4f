// Command mapreducer is the mapreducer track's node (a MapReduce
// coordinator or worker, and a stream processor): run it under the grader
// with `make track-mapreducer`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer"
)

func main() { node.Main(mapreducer.Configure) }
