// Package advanced is the advanced track's node. The track builds several
// systems, each in its own package under tracks/advanced; a node runs one of
// them, chosen by its first flag, --system NAME, and the rest of its
// arguments go to that system. Each system registers itself from a file of
// this package (system_<name>.go), so the systems stay independent of each
// other.
package advanced

import (
	"fmt"
	"sort"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// A System sets up a node for one of the track's systems from the
// arguments that follow --system NAME.
type System func(n *node.Node, args []string) error

var systems = map[string]System{}

// register adds a system under its --system name; called from init.
func register(name string, s System) {
	if _, dup := systems[name]; dup {
		panic("advanced: system " + name + " registered twice")
	}
	systems[name] = s
}

// Systems lists the registered systems' names, sorted.
func Systems() []string {
	names := make([]string, 0, len(systems))
	for name := range systems {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	s, rest, err := pick(n.Args())
	if err != nil {
		return err
	}
	return s(n, rest)
}

// pick reads --system NAME (or --system=NAME), which must come first.
func pick(args []string) (System, []string, error) {
	usage := fmt.Sprintf("usage: advanced --system %s [system flags]", strings.Join(Systems(), "|"))
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("advanced: no --system given (%s)", usage)
	}
	var name string
	var rest []string
	switch {
	case args[0] == "--system" || args[0] == "-system":
		if len(args) < 2 {
			return nil, nil, fmt.Errorf("advanced: --system needs a value (%s)", usage)
		}
		name, rest = args[1], args[2:]
	case strings.HasPrefix(args[0], "--system="), strings.HasPrefix(args[0], "-system="):
		name, rest = args[0][strings.Index(args[0], "=")+1:], args[1:]
	default:
		return nil, nil, fmt.Errorf("advanced: the first flag must be --system, got %q (%s)", args[0], usage)
	}
	s, ok := systems[name]
	if !ok {
		return nil, nil, fmt.Errorf("advanced: unknown system %q (%s)", name, usage)
	}
	return s, rest, nil
}
