package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// dhtHist builds a history from (process, f, key, value, invoke ms,
// complete ms, outcome) rows; hops 1 on every ok.
type dhtRow struct {
	proc      int
	f, key    string
	value     int64 // 0: none (a get that found nothing, or a get's invoke)
	inv, comp int
	typ       history.Type
}

func dhtHist(rows ...dhtRow) history.History {
	type ev struct {
		at time.Duration
		op history.Op
	}
	var evs []ev
	for _, r := range rows {
		in := DHTOp{Key: r.key}
		if r.f == "put" {
			v := r.value
			in.Value = &v
		}
		evs = append(evs, ev{time.Duration(r.inv) * time.Millisecond, history.Op{Type: history.Invoke, Process: r.proc, F: r.f, Value: in, Node: "n1"}})
		out := in
		if r.typ == history.OK {
			h := 1
			out.Hops = &h
			if r.f == "get" && r.value != 0 {
				v := r.value
				out.Value = &v
			}
		}
		evs = append(evs, ev{time.Duration(r.comp) * time.Millisecond, history.Op{Type: r.typ, Process: r.proc, F: r.f, Value: out, Node: "n1"}})
	}
	// Sort by time, stable: invocations before completions at equal times.
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].at < evs[j-1].at; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	h := make(history.History, len(evs))
	for i, e := range evs {
		e.op.Index, e.op.Time = i, e.at
		h[i] = e.op
	}
	return h
}

func TestDHTValues(t *testing.T) {
	for _, c := range []struct {
		name string
		rows []dhtRow
		want Validity
		what string
	}{
		{"latest", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {0, "put", "k", 2, 3, 4, history.OK}, {1, "get", "k", 2, 5, 6, history.OK}}, Valid, ""},
		{"stale", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {0, "put", "k", 2, 3, 4, history.OK}, {1, "get", "k", 1, 5, 6, history.OK}}, Invalid, "stale value"},
		{"concurrent put", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {0, "put", "k", 2, 3, 9, history.OK}, {1, "get", "k", 1, 5, 6, history.OK}}, Valid, ""},
		{"lost", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {1, "get", "k", 0, 5, 6, history.OK}}, Invalid, "lost value"},
		{"unsure put may land late", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {0, "put", "k", 2, 3, 4, history.Info}, {1, "get", "k", 2, 50, 60, history.OK}}, Valid, ""},
		{"failed put never lands", []dhtRow{{0, "put", "k", 1, 1, 2, history.OK}, {0, "put", "k", 2, 3, 4, history.Fail}, {1, "get", "k", 2, 5, 6, history.OK}}, Invalid, "value never written"},
		{"future", []dhtRow{{0, "put", "k", 1, 10, 12, history.OK}, {1, "get", "k", 1, 5, 6, history.OK}}, Invalid, "value from the future"},
		{"other key", []dhtRow{{0, "put", "j", 1, 1, 2, history.OK}, {1, "get", "k", 1, 5, 6, history.OK}}, Invalid, "value never written"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, hops := DHT(dhtHist(c.rows...), 8)
			if v.Valid != c.want {
				t.Fatalf("verdict %s, want %s: %s", v.Valid, c.want, v.Summary)
			}
			if c.what != "" && (v.First() == nil || v.First().What != c.what) {
				t.Fatalf("first violation %+v, want %q", v.First(), c.what)
			}
			if hops.Valid != Valid || hops.Details.(DHTHops).Mean != 1 {
				t.Fatalf("hops %s %+v", hops.Valid, hops.Details)
			}
		})
	}
}
