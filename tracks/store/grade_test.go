package store

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// TestGradeStagesInProcess grades every stage of stages.tsv in-process
// under virtual time, as `make track-store` does with the binary, and logs
// how available the majority side stayed while partitions were active.
func TestGradeStagesInProcess(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		t.Run(st.Name, func(t *testing.T) {
			rep := gradetest.Grade(t, st, func([]string) program.Program { return node.Program(Configure) })
			if ok, why := gradetest.Verdict(st, rep); !ok {
				t.Fatalf("stage %s: %s\n%s", st.Name, why, rep.Summary())
			}
			if answered, total := majorityAvailability(rep); total > 0 {
				// A figure, not a requirement: printed with -v.
				t.Logf("majority side during partitions: %d of %d requests answered (%.3f)", answered, total, float64(answered)/float64(total))
			}
		})
	}
}

// majorityAvailability counts requests sent, while a partition was active,
// to nodes that could reach a majority, and those of them that got a
// definite answer (ok, or a cas refused because of its precondition or a
// missing key): a timeout or "temporarily unavailable" is not an answer.
func majorityAvailability(rep *maelstrom.Report) (answered, total int) {
	n := rep.Options.NodeCount
	var cut map[string][]string // receiver -> senders it ignores; nil when healed
	type span struct {
		from time.Duration
		cut  map[string][]string
	}
	var spans []span
	for _, op := range rep.History {
		if op.Process != maelstrom.NemesisProcess {
			continue
		}
		switch op.F {
		case "start-partition":
			cut, _ = op.Value.(map[string][]string)
		case "stop-partition":
			cut = nil
		default:
			continue
		}
		spans = append(spans, span{op.Time, cut})
	}
	at := func(t time.Duration) map[string][]string {
		var c map[string][]string
		for _, s := range spans {
			if s.from <= t {
				c = s.cut
			}
		}
		return c
	}
	for _, p := range rep.History.Pairs() {
		c := at(p.Invoke.Time)
		if c == nil || n-len(c[p.Invoke.Node]) <= n/2 {
			continue
		}
		total++
		switch {
		case p.Outcome() == history.OK:
			answered++
		case p.Completion.Error != nil && (p.Completion.Error.Code == 20 || p.Completion.Error.Code == 22):
			answered++
		}
	}
	return answered, total
}
