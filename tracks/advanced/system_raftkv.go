package advanced

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/store"
)

// raft-kv: the store track's Raft key-value node, unchanged, so that the
// byzantine fault can show what one lying node does to a protocol that
// trusts its peers (pbft.md).
func init() {
	register("raft-kv", func(n *node.Node, args []string) error {
		o, err := store.ParseArgs(args)
		if err != nil {
			return err
		}
		store.Setup(n, o)
		return nil
	})
}
