// Command indexes is the indexes track's node (a key-value store on one of
// the track's storage engines, with range scans and secondary indexes):
// run it under the grader with `make track-indexes`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/indexes"
)

func main() { node.Main(indexes.Configure) }
