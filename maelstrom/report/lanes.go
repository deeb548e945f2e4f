package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// laneKind orders lanes: nodes, then clients, then services (lin-kv, ...),
// as Maelstrom's diagram does, so that server traffic stays on the left
// and the grader's own services do not split the cluster.
type laneKind int

const (
	nodeLane laneKind = iota
	clientLane
	serviceLane
)

func (k laneKind) class() string {
	switch k {
	case nodeLane:
		return "node"
	case clientLane:
		return "client"
	}
	return "service"
}

type lane struct {
	name string
	kind laneKind
}

// splitNum splits "n12" into ("n", 12, true) so that n10 sorts after n9.
func splitNum(name string) (string, int, bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 {
		return name, 0, false
	}
	n, err := strconv.Atoi(name[i:])
	if err != nil {
		return name, 0, false
	}
	return name[:i], n, true
}

// kindOf classifies a participant the declared lists do not name: the
// wire's conventions are nN for nodes and cN for clients.
func kindOf(name string) laneKind {
	prefix, _, ok := splitNum(name)
	switch {
	case ok && prefix == "n":
		return nodeLane
	case ok && prefix == "c":
		return clientLane
	}
	return serviceLane
}

// lanes lists every participant once: the declared nodes and clients plus
// anyone who sent or received one of msgs, in display order.
func lanes(nodes, clients []string, msgs []Message) []lane {
	seen := map[string]laneKind{}
	add := func(name string, k laneKind) {
		if name == "" {
			return
		}
		if _, ok := seen[name]; !ok {
			seen[name] = k
		}
	}
	for _, n := range nodes {
		add(n, nodeLane)
	}
	for _, c := range clients {
		add(c, clientLane)
	}
	for _, m := range msgs {
		add(m.Src, kindOf(m.Src))
		add(m.Dest, kindOf(m.Dest))
	}
	out := make([]lane, 0, len(seen))
	for name, k := range seen {
		out = append(out, lane{name: name, kind: k})
	}
	slices.SortFunc(out, compareLanes)
	return out
}

// compareLanes orders by kind, then name prefix, then number.
func compareLanes(a, b lane) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	pa, na, oka := splitNum(a.name)
	pb, nb, okb := splitNum(b.name)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if oka && okb {
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
	}
	return strings.Compare(a.name, b.name)
}
