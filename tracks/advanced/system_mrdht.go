package advanced

import "github.com/distsys-curriculum/distsys/tracks/advanced/mrdht"

// mr-dht: the second capstone, MapReduce whose input lives in a DHT
// (mrdht).
func init() { register("mr-dht", mrdht.Configure) }
