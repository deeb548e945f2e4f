// Command tracer is the tracer track's node (traced calls, a span
// collector, a time-series store with alert rules): run it under the
// grader with `make track-tracer`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/tracer"
)

func main() { node.Main(tracer.Configure) }
