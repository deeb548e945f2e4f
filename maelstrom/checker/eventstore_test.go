package checker

import (
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// esHistory: op 1 opens acct-0 (ok), op 2 transfers to acct-1 (whatever
// outcome), then a final read of the log returns log.
func esHistory(outcome2 history.Type, log []ESRecord) history.History {
	open := ESAppend{Op: 1, Command: "open", Account: "acct-0",
		Writes: []ESWrite{{Stream: "acct-0", Expected: 0, Events: []ESEvent{{ID: "e1", Type: "opened", At: 1}}}}, Versions: []int64{1}, Position: 1}
	xfer := ESAppend{Op: 2, Command: "transfer", Account: "acct-0", Peer: "acct-1",
		Writes: []ESWrite{
			{Stream: "acct-0", Expected: 1, Events: []ESEvent{{ID: "e2", Type: "deposited", Amount: 5, At: 2}}},
			{Stream: "acct-1", Expected: 0, Events: []ESEvent{{ID: "e3", Type: "opened", At: 2}}},
		}, Versions: []int64{2, 1}, Position: 3}
	b := &builder{}
	b.call(history.OK, 1, "n0", "append", ESAppend{Op: 1}, open, 1, 2)
	b.call(outcome2, 2, "n0", "append", ESAppend{Op: 2}, xfer, 3, 4)
	b.call(history.OK, 3, "n0", "read_all", ESRead{From: 1, Max: 100}, ESRead{From: 1, Max: 100, Events: log}, 10, 11).final()
	return b.h
}

func esRec(stream string, v, p int64, e ESEvent) ESRecord {
	return ESRecord{Stream: stream, Version: v, Position: p, Event: e}
}

func TestEventStoreChecker(t *testing.T) {
	e1 := ESEvent{ID: "e1", Type: "opened", At: 1}
	e2 := ESEvent{ID: "e2", Type: "deposited", Amount: 5, At: 2}
	e3 := ESEvent{ID: "e3", Type: "opened", At: 2}
	full := []ESRecord{esRec("acct-0", 1, 1, e1), esRec("acct-0", 2, 2, e2), esRec("acct-1", 1, 3, e3)}
	for _, c := range []struct {
		name    string
		outcome history.Type
		log     []ESRecord
		want    Validity
		what    string
	}{
		{"whole", history.OK, full, Valid, ""},
		{"unknown and absent", history.Info, full[:1], Valid, ""},
		{"unknown and whole", history.Info, full, Valid, ""},
		{"torn", history.Info, full[:2], Invalid, "torn append"},
		{"lost", history.OK, full[:1], Invalid, "lost append"},
		{"refused but stored", history.Fail, full, Invalid, "refused append took effect"},
		{"phantom", history.OK, append(full[:3:3], esRec("acct-1", 2, 4, ESEvent{ID: "x", Type: "deposited", Amount: 1})), Invalid, "phantom event"},
		{"gap", history.OK, []ESRecord{esRec("acct-0", 1, 1, e1), esRec("acct-0", 3, 2, e2), esRec("acct-1", 1, 3, e3)}, Invalid, "version gap"},
		{"no log", history.OK, nil, Unknown, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := esHistory(c.outcome, c.log)
			if c.log == nil {
				h = h[:4]
			}
			res := EventStore(h, nil)
			if res.Valid != c.want || (c.what != "" && res.Violations[0].What != c.what) {
				t.Fatalf("%s: %s", res.Valid, res.Summary)
			}
		})
	}
}

func TestProjectionChecker(t *testing.T) {
	e1 := ESEvent{ID: "e1", Type: "opened", At: 1}
	e2 := ESEvent{ID: "e2", Type: "deposited", Amount: 5, At: 2}
	e3 := ESEvent{ID: "e3", Type: "opened", At: 2}
	full := []ESRecord{esRec("acct-0", 1, 1, e1), esRec("acct-0", 2, 2, e2), esRec("acct-1", 1, 3, e3)}
	h := esHistory(history.OK, full)
	b := &builder{h: h}
	// Stale by 96 ms (op 2 was acknowledged at 4 ms), then right, then converged.
	b.call(history.OK, 4, "n0", "read_model", ESReadModel{}, ESReadModel{Position: 1, Balances: map[string]int64{"acct-0": 0}}, 100, 101)
	b.call(history.OK, 4, "n0", "read_model", ESReadModel{}, ESReadModel{Position: 3, Balances: map[string]int64{"acct-0": 5, "acct-1": 0}}, 200, 201).final()
	res := Projection(b.h)
	d := res.Details.(ProjectionDetails)
	if res.Valid != Valid || d.Staleness.Max != msT(96) || len(d.Converged) != 1 {
		t.Fatalf("%s: %s %+v", res.Valid, res.Summary, d)
	}
	b.call(history.OK, 4, "n1", "read_model", ESReadModel{}, ESReadModel{Position: 2, Balances: map[string]int64{"acct-0": 6}}, 300, 301).final()
	res = Projection(b.h)
	if res.Valid != Invalid || res.Violations[0].What != "read model differs from the fold" || len(res.Violations) != 2 {
		t.Fatalf("%s: %s", res.Valid, res.Summary)
	}
}
