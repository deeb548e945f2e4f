// Command proxies is the proxies track's node (a relay in front of a slow
// origin): run it under the grader with `make track-proxies`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/proxies"
)

func main() { node.Main(proxies.Configure) }
