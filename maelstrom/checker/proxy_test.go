package checker

import (
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func TestProxyChecks(t *testing.T) {
	origin := ProxyOrigin{Gets: 3, Incrs: 2, Changes: []ProxyChange{
		{Key: 1, Value: 1, At: msT(100), RequestID: "r1"},
		{Key: 1, Value: 2, At: msT(200), RequestID: "r2"},
	}}
	incr := func(id string, res *int64) ProxyIncr { return ProxyIncr{Key: 1, RequestID: id, Result: res} }
	good := func() *builder {
		b := &builder{}
		b.call(history.OK, 0, "n0", "incr", incr("r1", nil), incr("r1", i64(1)), 90, 150)
		b.call(history.OK, 0, "n0", "incr", incr("r2", nil), incr("r2", i64(2)), 190, 250)
		return b
	}
	b := good()
	b.call(history.OK, 1, "n1", "get", kv(1, nil), kv(1, i64(1)), 150, 250) // 1 or 2 will do
	if r := Proxy(b.h, origin); r.Valid != Valid {
		t.Fatalf("good history judged %s: %s", r.Valid, r.Summary)
	}
	b = good()
	b.call(history.OK, 1, "n1", "get", kv(1, nil), kv(1, i64(1)), 210, 250) // 2 since 200 ms
	if r := Proxy(b.h, origin); r.Valid != Invalid || r.First().What != "wrong value" {
		t.Fatalf("old value judged %s: %s", r.Valid, r.Summary)
	}
	// A change at the instant a get began is concurrent with it: the
	// origin may have served the get first (ops dispatched together under
	// virtual time reach it at one instant). One a nanosecond earlier is not.
	b = good()
	b.call(history.OK, 1, "n1", "get", kv(1, nil), kv(1, i64(1)), 200, 250)
	if r := Proxy(b.h, origin); r.Valid != Valid {
		t.Fatalf("get concurrent with a change judged %s: %s", r.Valid, r.Summary)
	}
	early := origin
	early.Changes = append([]ProxyChange(nil), origin.Changes...)
	early.Changes[1].At = msT(200) - 1
	if r := Proxy(b.h, early); r.Valid != Invalid || r.First().What != "wrong value" {
		t.Fatalf("get after a change judged %s: %s", r.Valid, r.Summary)
	}
	dup := origin
	dup.Changes = append(dup.Changes, ProxyChange{Key: 1, Value: 3, At: msT(260), RequestID: "r2"})
	if r := Proxy(good().h, dup); r.Valid != Invalid || r.First().What != "duplicate effect" || r.Details.(ProxyDetails).DuplicateEffects != 1 {
		t.Fatalf("duplicate judged %s: %s", r.Valid, r.Summary)
	}
	b = good()
	b.call(history.OK, 0, "n0", "incr", incr("r3", nil), incr("r3", i64(3)), 300, 350)
	if r := Proxy(b.h, origin); r.Valid != Invalid || r.First().What != "lost increment" {
		t.Fatalf("lost increment judged %s: %s", r.Valid, r.Summary)
	}
	// Twenty client reads of the hot key; three origin reads is 15%.
	b = &builder{}
	for i := range 20 {
		b.call(history.OK, i, "n0", "get", kv(0, nil), kv(0, i64(0)), 10, 20)
	}
	hot := ProxyOrigin{Gets: 3, HotGets: 3}
	if r := Proxy(b.h, hot); r.Valid != Invalid || r.First().What != "origin overload" {
		t.Fatalf("15%% hot reads judged %s: %s", r.Valid, r.Summary)
	}
	hot.HotGets, hot.Gets = 2, 2
	if r := Proxy(b.h, hot); r.Valid != Valid {
		t.Fatalf("10%% hot reads judged %s: %s", r.Valid, r.Summary)
	}
}
