// Command identifier is the identifier track's node: run it under the
// grader with `make track-identifier`, or by hand with
// `--strategy counter|counter-durable|uuid|snowflake|ulid`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/identifier"
)

func main() { node.Main(identifier.Configure) }
