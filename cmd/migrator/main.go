// Command migrator is the migrator track's node (a schema change under
// live traffic, API versions, feature flags and a canary): run it under
// the grader with `make track-migrator`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/migrator"
)

func main() { node.Main(migrator.Configure) }
