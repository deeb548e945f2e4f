package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var streamCfg = StreamConfig{SizeMs: 1000, SlideMs: 1000, BoundMs: 200, LatenessMs: 500}

func streamHistory(sink []StreamResult, ackSecond bool) history.History {
	b := &builder{}
	b1 := StreamBatch{Seq: 1, Events: []StreamEvent{{"a", 100}, {"a", 900}, {"b", 1250}}, SentMs: 10}
	b2 := StreamBatch{Seq: 2, Events: []StreamEvent{{"a", 999}}, SentMs: 20}
	end := StreamBatch{Seq: 3, Events: []StreamEvent{}, End: true, SentMs: 30}
	b.call(history.OK, 0, "n0", "events", b1, b1, 10, 11)
	if ackSecond {
		b.call(history.OK, 0, "n0", "events", b2, b2, 20, 21)
	} else {
		b.call(history.Info, 0, "n0", "events", b2, b2, 20, 21)
	}
	b.call(history.OK, 0, "n0", "events", end, end, 30, 31)
	b.call(history.OK, 0, "n0", "read", nil, StreamSink{Results: sink, Writes: 2}, 40, 40)
	return b.h
}

func TestStreamExactSinkIsValid(t *testing.T) {
	sink := []StreamResult{{0, 1000, "a", 3, 12}, {1000, 2000, "b", 1, 31}}
	res := Stream(streamHistory(sink, true), streamCfg)
	if res.Valid != Valid {
		t.Fatalf("%s: %+v", res.Summary, res.Violations)
	}
	d := res.Details.(StreamDetails)
	if d.LateCounted != 1 || d.Windows != 2 || d.Latency.Count != 1 || d.Latency.Max != msT(2) {
		t.Fatalf("%+v", d)
	}
}

func TestStreamWrongMissingAndExtraWindows(t *testing.T) {
	for _, c := range []struct {
		sink []StreamResult
		want string
	}{
		{[]StreamResult{{0, 1000, "a", 4, 12}, {1000, 2000, "b", 1, 31}}, `window [0, 1000) word "a": the sink (read at the end, the input having come through the node on n0 (p0)) has 4, the reference 3 (counts too high`},
		{[]StreamResult{{0, 1000, "a", 2, 12}, {1000, 2000, "b", 1, 31}}, "counts too low"},
		{[]StreamResult{{1000, 2000, "b", 1, 31}}, "the sink has no result for it"},
		{[]StreamResult{{0, 1000, "a", 3, 12}, {1000, 2000, "b", 1, 31}, {1000, 2000, "c", 1, 31}}, "the reference has no event of that word"},
	} {
		res := Stream(streamHistory(c.sink, true), streamCfg)
		if res.Valid != Invalid || res.First().What != "wrong window" || !strings.Contains(res.First().Detail, c.want) {
			t.Errorf("%v: %s %+v, want %q", c.sink, res.Valid, res.First(), c.want)
		}
	}
}

func TestStreamUnacknowledgedBatchIsInvalid(t *testing.T) {
	res := Stream(streamHistory(nil, false), streamCfg)
	if res.Valid != Invalid || res.First().What != "unacknowledged batch" {
		t.Fatalf("%s %+v", res.Valid, res.First())
	}
	res = Stream(streamHistory(nil, true)[:6], streamCfg) // no end, no read
	if res.Valid != Invalid || res.First().What != "stream not finished" {
		t.Fatalf("%s %+v", res.Valid, res.First())
	}
}
