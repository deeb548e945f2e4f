package gossiper

import (
	"fmt"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
)

// benchStrategies are the rows of the strategy table: each strategy with
// the tuning the lesson discusses.
var benchStrategies = []struct{ name, args string }{
	{"flood", "--strategy flood"},
	{"tree", "--strategy tree"},
	{"gossip 100ms", "--strategy gossip --batch 100ms"},
	{"gossip 300ms", "--strategy gossip --batch 300ms"},
	{"gossip 1s", "--strategy gossip --batch 1s --sync 2s"},
	{"gossip 100ms, 4-ary tree", "--strategy gossip --batch 100ms --fanout 4"},
}

// benchStages are the columns: stages of stages.tsv whose grader
// arguments are used as they are, with the row's node arguments (d and e
// share their grader arguments, so d stands for both).
var benchStages = []string{"b", "c", "d", "d-partition"}

// figures are what the table shows of one run.
type figures struct {
	msgsPerOp, serverMsgsPerOp float64
	p50, max                   float64 // stable latency, ms
	valid                      checker.Validity
}

func measure(rep *maelstrom.Report) figures {
	f := figures{msgsPerOp: rep.MsgsPerOp, serverMsgsPerOp: rep.ServerMsgsPerOp, valid: rep.Valid, p50: -1, max: -1}
	if res, ok := rep.Result("set-full"); ok {
		if d, ok := res.Details.(checker.SetFullDetails); ok && len(d.StableLatencies) > 0 {
			f.p50, f.max = d.StableLatencies["0.5"], d.StableLatencies["1"]
		}
	}
	return f
}

// BenchmarkStrategies grades every strategy on stages b, c, d (= e) and d
// with partitions, in-process under virtual time, and prints the table of
// the grader's figures that README.md shows. Run it with
// `make bench-gossiper`.
func BenchmarkStrategies(b *testing.B) {
	var out strings.Builder
	for range b.N {
		out.Reset()
		fmt.Fprintf(&out, "| strategy | stage | msgs per op (between servers) | stable latency p50 | max | verdict |\n")
		fmt.Fprintf(&out, "|---|---|---:|---:|---:|---|\n")
		for _, s := range benchStrategies {
			for _, name := range benchStages {
				st := gradetest.Stage(b, "stages.tsv", name)
				st.NodeArgs = strings.Fields(s.args)
				rep, err := gradetest.GradeOutsideTest(st, node.Program(Configure))
				if err != nil {
					b.Fatalf("%s on stage %s: %v", s.name, name, err)
				}
				f := measure(rep)
				fmt.Fprintf(&out, "| %s | %s | %.2f (%.2f) | %.0f ms | %.0f ms | %s |\n",
					s.name, name, f.msgsPerOp, f.serverMsgsPerOp, f.p50, f.max, f.valid)
			}
		}
	}
	fmt.Print("\n" + out.String())
}
