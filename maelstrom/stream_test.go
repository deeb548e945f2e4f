package maelstrom

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// streamFlaw selects how testStream breaks the stream workload's contract.
type streamFlaw int

const (
	streamCorrect        streamFlaw = iota
	streamNoDedup                   // every delivery counts: redelivered batches count twice
	streamProcessingTime            // windows by arrival time
)

// testStream is a single node that keeps every batch and, at the end of
// the input, writes the grader's own reference counts to the sink (this
// tests the checker and the sink, not a stream processor), with one
// optional flaw.
func testStream(flaw streamFlaw) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		var cfg checker.StreamConfig
		var batches [][]checker.StreamEvent
		last := int64(0)
		pending := map[int64]testnodes.Msg{} // sink put msg_id -> the end batch to acknowledge
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			switch m.Type() {
			case "stream_config":
				if err := json.Unmarshal(mustJSON(m.Body), &cfg); err != nil {
					return err
				}
				n.Reply(m, map[string]any{"type": "stream_config_ok"})
			case "events":
				var b checker.StreamBatch
				if err := json.Unmarshal(mustJSON(m.Body), &b); err != nil {
					return err
				}
				if b.Seq <= last && flaw != streamNoDedup {
					n.Reply(m, map[string]any{"type": "events_ok"})
					return nil
				}
				last = max(last, b.Seq)
				if flaw == streamProcessingTime {
					for i := range b.Events {
						b.Events[i].Time = time.Now().UnixMilli()
					}
				}
				batches = append(batches, b.Events)
				if !b.End {
					n.Reply(m, map[string]any{"type": "events_ok"})
					return nil
				}
				counts, _, _, _ := checker.StreamReference(cfg, batches)
				var rs []map[string]any
				for k, c := range counts {
					rs = append(rs, map[string]any{"start": k.Start(), "end": k.End(), "word": k.Word(), "count": c})
				}
				pending[n.RPC("sink", map[string]any{"type": "sink_put", "results": rs})] = m
			case "sink_put_ok":
				if req, ok := pending[m.Int("in_reply_to")]; ok {
					n.Reply(req, map[string]any{"type": "events_ok"})
				}
			}
			return nil
		}}
	})
}

func gradeStream(t *testing.T, flaw streamFlaw) *Report {
	t.Helper()
	return grade(t, testStream(flaw), "-w", "stream", "--window-ms", "2000", "--slide-ms", "500", "--node-count", "1", "--concurrency", "1", "--time-limit", "5", "--rate", "10")
}

func TestStreamCorrectNodeValid(t *testing.T) {
	rep := gradeStream(t, streamCorrect)
	wantVerdict(t, rep, checker.Valid, "redeliveries", "late dropped", "latency behind the watermark")
	res, _ := rep.Result("stream")
	d := res.Details.(checker.StreamDetails)
	if d.Redeliveries == 0 || d.LateCounted+d.LateDropped == 0 || d.Windows == 0 {
		t.Fatalf("%+v: want redeliveries, late events and windows", d)
	}
}

func TestStreamCountingRedeliveriesIsTooHigh(t *testing.T) {
	rep := gradeStream(t, streamNoDedup)
	wantVerdict(t, rep, checker.Invalid, "first problem (stream): wrong window", "counts too high", "on n0")
}

func TestStreamProcessingTimeWindowsAreWrong(t *testing.T) {
	rep := gradeStream(t, streamProcessingTime)
	wantVerdict(t, rep, checker.Invalid, "first problem (stream): wrong window", "window [")
}

func TestStreamNeedsOneProducer(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "stream", "--node-count", "1", "--concurrency", "2", "--time-limit", "1"})
	if err == nil {
		_, err = Run(t.Context(), opts, InProcess{Program: testStream(streamCorrect)})
	}
	if err == nil {
		t.Fatal("the stream workload ran with two producers")
	}
}

// The reference on a hand-checked input: tumbling 1 s windows, bound
// 200 ms, lateness 500 ms.
func TestStreamReferenceByHand(t *testing.T) {
	c := checker.StreamConfig{SizeMs: 1000, SlideMs: 1000, BoundMs: 200, LatenessMs: 500}
	ev := func(w string, t int64) checker.StreamEvent { return checker.StreamEvent{Word: w, Time: t} }
	counts, lateCounted, dropped, _ := checker.StreamReference(c, [][]checker.StreamEvent{
		{ev("a", 100), ev("a", 900), ev("b", 1250)}, // watermark 1050
		{ev("a", 999)},               // late, counted
		{ev("c", 1800), ev("a", 10)}, // watermark 1600: [0, 1000) closed; a@10 dropped
	})
	if lateCounted != 1 || dropped != 1 || len(counts) != 3 {
		t.Fatalf("late %d, dropped %d, counts %v", lateCounted, dropped, counts)
	}
	for k, n := range counts {
		if k.Start() == 0 && k.Word() == "a" && n != 3 {
			t.Fatalf("[0, 1000) a = %d, want 3", n)
		}
	}
}
