package advanced

import (
	"os"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestPBFTSummaries grades the pbft stages in-process and prints each
// run's summary (its figures: msgs-per-op, latency quantiles,
// availability, the lies told). Behind PBFT_SUMMARY=1, since
// TestGradeStagesInProcess already grades them.
func TestPBFTSummaries(t *testing.T) {
	if os.Getenv("PBFT_SUMMARY") == "" {
		t.Skip("set PBFT_SUMMARY=1 to print the pbft stages' summaries")
	}
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	prog := func([]string) program.Program { return node.Program(Configure) }
	for _, st := range all {
		if !strings.HasPrefix(st.Name, "pbft-") && !strings.HasPrefix(st.Name, "raft-") {
			continue
		}
		t.Run(st.Name, func(t *testing.T) {
			rep := gradetest.Grade(t, st, prog)
			t.Logf("%s\n%s", st.Name, rep.Summary())
		})
	}
}
