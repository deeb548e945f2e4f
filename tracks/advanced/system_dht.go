package advanced

import "github.com/distsys-curriculum/distsys/tracks/advanced/dht"

func init() { register("dht", dht.Configure) }
