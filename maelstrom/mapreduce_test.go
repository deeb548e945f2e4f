package maelstrom

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// mrFlaw selects how testMapReduce breaks the mapreduce workload's contract.
type mrFlaw int

const (
	mrCorrect     mrFlaw = iota
	mrOffByOne           // the first key of each word count is one too high
	mrForgetful          // acknowledges jobs it does not keep
	mrNeverDone          // never finishes a job
	mrUnsupported        // answers every request with error 10, as a starter does
)

// testMapReduce is a single node that answers jobs with the grader's own
// reference output (this tests the checker, not a MapReduce), with one
// optional flaw.
func testMapReduce(flaw mrFlaw) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		jobs := map[string][][2]string{}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			var id string
			_ = json.Unmarshal(m.Body["job"], &id)
			if flaw == mrUnsupported {
				n.Reply(m, map[string]any{"type": "error", "code": 10, "text": "not written yet"})
				return nil
			}
			switch m.Type() {
			case "submit":
				var j checker.MRJob
				if err := json.Unmarshal(mustJSON(m.Body), &j); err != nil {
					return err
				}
				out := checker.MapReduceReference(j)
				if flaw == mrOffByOne && j.App == "wordcount" && len(out) > 0 {
					c, _ := strconv.Atoi(out[0][1])
					out[0][1] = strconv.Itoa(c + 1)
				}
				if flaw != mrForgetful {
					jobs[id] = out
				}
				n.Reply(m, map[string]any{"type": "submit_ok"})
			case "status":
				out, ok := jobs[id]
				switch {
				case !ok:
					n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "unknown job"})
				case flaw == mrNeverDone:
					n.Reply(m, map[string]any{"type": "status_ok", "done": false})
				default:
					n.Reply(m, map[string]any{"type": "status_ok", "done": true, "output": out})
				}
			}
			return nil
		}}
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func gradeMapReduce(t *testing.T, flaw mrFlaw) *Report {
	t.Helper()
	return grade(t, testMapReduce(flaw), "-w", "mapreduce", "--node-count", "1", "--concurrency", "2", "--time-limit", "5", "--rate", "4")
}

func TestMapReduceCorrectNodeValid(t *testing.T) {
	rep := gradeMapReduce(t, mrCorrect)
	wantVerdict(t, rep, checker.Valid, "output pairs checked", "job time p50")
	res, _ := rep.Result("mapreduce")
	d := res.Details.(checker.MapReduceDetails)
	if d.Jobs < 10 || d.Done != d.Jobs || d.Records == 0 {
		t.Fatalf("%+v: want every job done", d)
	}
}

func TestMapReduceWrongCountNamesJobAndKey(t *testing.T) {
	rep := gradeMapReduce(t, mrOffByOne)
	wantVerdict(t, rep, checker.Invalid, "first problem (mapreduce): wrong output", "(wordcount,", "first difference at key", "on n0")
}

func TestMapReduceForgottenJobIsLost(t *testing.T) {
	rep := gradeMapReduce(t, mrForgetful)
	wantVerdict(t, rep, checker.Invalid, "first problem (mapreduce): lost job", "answered that the job is unknown", "on n0")
}

func TestMapReduceJobNeverDoneIsUnfinished(t *testing.T) {
	rep := grade(t, testMapReduce(mrNeverDone), "-w", "mapreduce", "--node-count", "1", "--concurrency", "1", "--time-limit", "2", "--rate", "1")
	wantVerdict(t, rep, checker.Invalid, "first problem (mapreduce): unfinished job", "never returned its output")
}

// The reference computation on hand-checked inputs.
func TestMapReduceReferenceByHand(t *testing.T) {
	splits := []checker.MRSplit{{Name: "a", Text: "The fox, the DOG.\nfox-trot 42 the"}, {Name: "b", Text: "dog"}}
	cases := []struct {
		job  checker.MRJob
		want [][2]string
	}{
		{checker.MRJob{App: "wordcount", Splits: splits}, [][2]string{{"dog", "2"}, {"fox", "2"}, {"the", "3"}, {"trot", "1"}}},
		{checker.MRJob{App: "index", Splits: splits}, [][2]string{{"dog", "a,b"}, {"fox", "a"}, {"the", "a"}, {"trot", "a"}}},
		{checker.MRJob{App: "grep", Pattern: "fox", Splits: splits}, [][2]string{{"a:1", "The fox, the DOG."}, {"a:2", "fox-trot 42 the"}}},
		{checker.MRJob{App: "join", Splits: []checker.MRSplit{{Name: "left/0", Text: "k1,a\nk2,b"}, {Name: "right/0", Text: "k1,x\nk1,y\nk3,z"}}},
			[][2]string{{"k1", "a,x"}, {"k1", "a,y"}}},
	}
	for _, c := range cases {
		got := checker.MapReduceReference(c.job)
		if string(mustJSON(got)) != string(mustJSON(c.want)) {
			t.Errorf("%s: got %v, want %v", c.job.App, got, c.want)
		}
	}
}

// A node that refuses jobs fails each at once (no waiting out the job
// deadline), and the run is invalid because no job ever succeeded.
func TestMapReduceRefusedJobsFailAtOnce(t *testing.T) {
	rep := gradeMapReduce(t, mrUnsupported)
	wantVerdict(t, rep, checker.Invalid, "never succeeded", "not written yet")
	for _, o := range rep.History {
		if o.Type == "fail" && o.Time > 6*time.Second {
			t.Fatalf("a refused job failed only at %s", o.Time)
		}
	}
}
