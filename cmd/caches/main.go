// Command caches is the caches track's node (a cache in front of a slow
// backing store): run it under the grader with `make track-caches`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/caches"
)

func main() { node.Main(caches.Configure) }
