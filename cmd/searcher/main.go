// Command searcher is the searcher track's node (distributed full-text
// search): run it under the grader with `make track-searcher`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/searcher"
)

func main() { node.Main(searcher.Configure) }
