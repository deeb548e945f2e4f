package workload

import (
	"context"
	"fmt"
	"math"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// Topologies lists the --topology names.
var Topologies = []string{"grid", "line", "tree", "tree2", "tree3", "tree4", "total"}

// Topology builds the neighbour map Maelstrom sends to broadcast nodes.
func Topology(name string, nodes []string) (map[string][]string, error) {
	out := map[string][]string{}
	n := len(nodes)
	switch name {
	case "grid", "":
		side := int(math.Ceil(math.Sqrt(float64(n))))
		for i, id := range nodes {
			r, c := i/side, i%side
			nb := []string{}
			add := func(r2, c2 int) {
				if r2 < 0 || c2 < 0 || c2 >= side {
					return
				}
				if j := r2*side + c2; j < n {
					nb = append(nb, nodes[j])
				}
			}
			add(r+1, c)
			add(r-1, c)
			add(r, c+1)
			add(r, c-1)
			out[id] = nb
		}
	case "line":
		if n < 2 {
			return out, nil
		}
		for i, id := range nodes {
			nb := []string{}
			if i > 0 {
				nb = append(nb, nodes[i-1])
			}
			if i < n-1 {
				nb = append(nb, nodes[i+1])
			}
			out[id] = nb
		}
	case "tree", "tree2", "tree3", "tree4":
		b := map[string]int{"tree": 2, "tree2": 2, "tree3": 3, "tree4": 4}[name]
		for i, id := range nodes {
			nb := []string{}
			if i > 0 {
				nb = append(nb, nodes[(i-1)/b])
			}
			for k := 1; k <= b; k++ {
				if j := i*b + k; j < n {
					nb = append(nb, nodes[j])
				}
			}
			out[id] = nb
		}
	case "total":
		for _, id := range nodes {
			nb := []string{}
			for _, o := range nodes {
				if o != id {
					nb = append(nb, o)
				}
			}
			out[id] = nb
		}
	default:
		return nil, fmt.Errorf("unknown topology %q (want one of %v)", name, Topologies)
	}
	return out, nil
}

func broadcastSpec() Spec {
	return Spec{Name: "broadcast", Description: "every broadcast value reaches every node", Final: true,
		New: func(p Params) (Instance, error) {
			topo, err := Topology(p.Topology, p.NodeIDs)
			if err != nil {
				return nil, err
			}
			return &setWorkload{p: p, addType: "broadcast", addKey: "message", addF: "broadcast",
				readKey: "messages", topology: topo}, nil
		}}
}

func gSetSpec() Spec {
	return Spec{Name: "g-set", Description: "a grow-only set replicated across nodes", Final: true,
		New: func(p Params) (Instance, error) {
			return &setWorkload{p: p, addType: "add", addKey: "element", addF: "add", readKey: "value"}, nil
		}}
}

// setWorkload covers broadcast and g-set, which differ only in names and
// in broadcast's topology setup and error mapping.
type setWorkload struct {
	p                     Params
	addType, addKey, addF string
	readKey               string
	topology              map[string][]string
	next                  int64
}

func (w *setWorkload) Setup(ctx context.Context, node string, c Caller) error {
	if w.topology == nil {
		return nil
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "topology", "topology": w.topology})
	if err == nil {
		_, err = Decode(raw, "topology_ok")
	}
	if err != nil {
		return fmt.Errorf("topology for %s: %w", node, err)
	}
	return nil
}

func (w *setWorkload) Next(int, int) Invocation {
	if w.p.Rand.IntN(2) == 0 {
		return Invocation{F: "read"}
	}
	v := w.next
	w.next++
	return Invocation{F: w.addF, Value: v}
}

func (w *setWorkload) Final(int) []Invocation { return []Invocation{{F: "read"}} }

func (w *setWorkload) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	withErrors := w.topology != nil // broadcast maps errors; g-set does not
	if inv.F == w.addF {
		raw, err := c.RPC(ctx, map[string]any{"type": w.addType, w.addKey: inv.Value})
		if err == nil {
			_, err = Decode(raw, w.addType+"_ok")
		}
		if err != nil {
			return Outcome(err, withErrors, false)
		}
		return ok(inv.Value)
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "read"})
	if err != nil {
		return Outcome(err, withErrors, true)
	}
	m, err := Decode(raw, "read_ok", Field{Name: w.readKey})
	if err != nil {
		return Outcome(err, withErrors, true)
	}
	vs, err := decodeInts(m[w.readKey], w.readKey)
	if err != nil {
		return Outcome(err, withErrors, true)
	}
	return ok(vs)
}

func (w *setWorkload) Check(h history.History) checker.Result { return checkSetFull(h, w.addF) }
