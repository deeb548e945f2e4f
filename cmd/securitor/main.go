// Command securitor is the securitor track's node (a key-value store
// behind JWT authentication, RBAC, envelope encryption and an audit log):
// run it under the grader with `make track-securitor`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/securitor"
)

func main() { node.Main(securitor.Configure) }
