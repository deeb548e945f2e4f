// Command counter is the counter track's node: run it under the grader
// with `make track-counter`, or by hand with --stage naive|cas|cas-stale|
// g-counter|pn-counter|g-set (and, for the CRDT stages, --gossip-interval
// and --gossip delta|full).
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/counter"
)

func main() { node.Main(counter.Configure) }
