package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func kvPut(k, v int64) history.KV { return history.KV{Key: k, Value: i64(v)} }

func scanOf(from, to int64, limit int, items ...[2]int64) IndexScan {
	return IndexScan{From: from, To: to, Limit: limit, Items: items}
}

func TestIndexKVScans(t *testing.T) {
	put1 := func() *builder {
		b := &builder{}
		b.call(history.OK, 0, "n0", "put", kvPut(1, 10), kvPut(1, 10), 0, 10)
		return b
	}
	cases := []struct {
		name string
		b    *builder
		want Validity
		what string
	}{
		{"sees the put", put1().call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5, [2]int64{1, 10}), 20, 30), Valid, ""},
		{"misses the put", put1().call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5), 20, 30), Invalid, "scan missed a key"},
		// Concurrent with the put: either answer is fine.
		{"concurrent, absent", put1().call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5), 5, 30), Valid, ""},
		// Past the limit, keys are not covered.
		{"beyond the limit", put1().call(history.OK, 0, "n0", "put", kvPut(3, 30), kvPut(3, 30), 10, 12).
			call(history.OK, 1, "n0", "scan", scanOf(0, 5, 1), scanOf(0, 5, 1, [2]int64{1, 10}), 20, 30), Valid, ""},
		{"deleted key comes back", put1().call(history.OK, 0, "n0", "delete", history.KV{Key: 1}, history.KV{Key: 1}, 12, 14).
			call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5, [2]int64{1, 10}), 20, 30), Invalid, "could not have"},
		{"unknown delete may not have happened", put1().call(history.Info, 0, "n0", "delete", history.KV{Key: 1}, history.KV{Key: 1}, 12, 14).
			call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5, [2]int64{1, 10}), 20, 30), Valid, ""},
		{"out of order", put1().call(history.OK, 1, "n0", "scan", scanOf(0, 5, 5), scanOf(0, 5, 5, [2]int64{3, 1}, [2]int64{1, 10}), 20, 30), Invalid, "malformed scan"},
	}
	for _, c := range cases {
		res := IndexKV(c.b.h, 0)
		if res.Valid != c.want || (c.what != "" && !strings.Contains(res.First().What+res.First().Detail, c.what)) {
			t.Errorf("%s: %s %s", c.name, res.Valid, res.Summary)
		}
		if c.want == Invalid && (res.First().Node != "n0" || res.First().Op == nil || res.First().Time != msT(30)) {
			t.Errorf("%s: violation %+v lacks node, op or time", c.name, res.First())
		}
	}
}

// A query that misses a key written 100 ms before it is stale: invalid
// without lag, counted as stale with a 200 ms lag, invalid again with 50.
func TestIndexKVQueryLag(t *testing.T) {
	b := &builder{}
	b.call(history.OK, 0, "n0", "put", kvPut(2, 5), kvPut(2, 5), 0, 10)
	attr := IndexAttr(5)
	b.call(history.OK, 1, "n1", "query", IndexQuery{Attr: attr}, IndexQuery{Attr: attr}, 110, 120)
	if res := IndexKV(b.h, 0); res.Valid != Invalid || res.First().What != "query missed a key" {
		t.Fatalf("no lag: %s", res.Summary)
	}
	res := IndexKV(b.h, 200*time.Millisecond)
	d := res.Details.(IndexKVDetails)
	if res.Valid != Valid || d.StaleQueries != 1 || d.MaxStaleness < 99*time.Millisecond || d.MaxStaleness > 102*time.Millisecond {
		t.Fatalf("200ms lag: %s, %+v", res.Summary, d)
	}
	if res := IndexKV(b.h, 50*time.Millisecond); res.Valid != Invalid {
		t.Fatalf("50ms lag: %s", res.Summary)
	}
	// A key returned with the wrong attribute is never explained by lag.
	b.call(history.OK, 1, "n1", "query", IndexQuery{Attr: IndexAttr(6)}, IndexQuery{Attr: IndexAttr(6), Keys: []int64{2}}, 130, 140)
	if res := IndexKV(b.h, time.Second); res.Valid != Invalid || res.First().What != "query returned a key without the attribute" {
		t.Fatalf("wrong attribute: %s", res.Summary)
	}
}
