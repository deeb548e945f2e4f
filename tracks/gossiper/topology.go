package gossiper

import "slices"

// Tree returns the neighbours of self in a spanning tree of nodes built
// from the node list alone (every node computes the same one): nodes[0] is
// the root, and node i's children are i*fanout+1 ... i*fanout+fanout. A
// fanout of 0, or one at least len(nodes)-1, makes a star around nodes[0]:
// every value crosses at most two links, the shortest path a tree allows.
// The parent, if any, comes first.
func Tree(nodes []string, self string, fanout int) []string {
	i := slices.Index(nodes, self)
	if i < 0 {
		return nil
	}
	if fanout <= 0 || fanout > len(nodes)-1 {
		fanout = max(len(nodes)-1, 1)
	}
	var out []string
	if i > 0 {
		out = append(out, nodes[(i-1)/fanout])
	}
	for k := 1; k <= fanout; k++ {
		if j := i*fanout + k; j < len(nodes) {
			out = append(out, nodes[j])
		}
	}
	return out
}
