package coordinator

import "github.com/distsys-curriculum/distsys/internal/node"

func setupTwoPC(n *node.Node, o Options) {}
