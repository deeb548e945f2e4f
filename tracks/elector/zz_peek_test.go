package elector

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

func TestZZPeek(t *testing.T) {
	for _, name := range []string{"partitions", "kill", "prevote", "no-prevote"} {
		st := gradetest.Stage(t, "stages.tsv", name)
		rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
		res, _ := rep.Result("election")
		t.Logf("%s: %s %s", name, res.Valid, res.Summary)
		if len(res.Violations) > 0 {
			t.Logf("  %s: %s", res.Violations[0].What, res.Violations[0].Detail)
		}
	}
}
