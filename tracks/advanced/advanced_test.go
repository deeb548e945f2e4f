package advanced

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
)

func TestPickNamesTheSystemAndPassesTheRest(t *testing.T) {
	var got []string
	systems["probe-test"] = func(_ *node.Node, args []string) error { got = args; return nil }
	defer delete(systems, "probe-test")
	for _, args := range [][]string{{"--system", "probe-test", "--x", "1"}, {"--system=probe-test", "--x", "1"}} {
		s, rest, err := pick(args)
		if err != nil {
			t.Fatalf("pick(%q): %v", args, err)
		}
		if err := s(nil, rest); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != "--x 1" {
			t.Errorf("pick(%q) passed %q, want --x 1", args, got)
		}
	}
}

func TestPickRefusesWithUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--system"}, {"--system", "nope"}, {"--x", "1"}} {
		if _, _, err := pick(args); err == nil || !strings.Contains(err.Error(), "usage: advanced --system") {
			t.Errorf("pick(%q) = %v, want an error with the usage", args, err)
		}
	}
}
