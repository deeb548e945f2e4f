// Command timekeeper is the timekeeper track's node: run it under the
// grader with `make track-timekeeper`, or by hand with
// `--stage wall|lamport|vector|hlc`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/timekeeper"
)

func main() { node.Main(timekeeper.Configure) }
