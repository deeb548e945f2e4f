package advanced

import "github.com/distsys-curriculum/distsys/tracks/advanced/pbft"

// pbft: Byzantine fault tolerance (tracks/advanced/pbft, lesson pbft.md).
func init() { register("pbft", pbft.Configure) }
