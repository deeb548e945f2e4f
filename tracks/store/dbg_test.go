package store

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

func TestDbg(t *testing.T) {
	all, _ := stages.Load("stages.tsv")
	for _, st := range all {
		rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
		t.Logf("%s\n%s", st.Name, rep.Summary())
	}
}
