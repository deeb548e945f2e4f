package checker

import (
	"math"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func TestLBChecks(t *testing.T) {
	req := func(k int64, backend string) LBRequest { return LBRequest{Key: k, Backend: backend} }
	backends := func(arr ...LBArrival) LBBackends {
		return LBBackends{Names: []string{"b0", "b1", "b2"}, Arrivals: arr, EjectWithin: msT(500),
			Outages: []LBOutage{{Backend: "b2", From: msT(1000)}, {Backend: "b1", From: msT(2000), To: msT(3000)}}}
	}
	good := func() *builder {
		b := &builder{}
		b.call(history.OK, 0, "n0", "request", req(1, ""), req(1, "b0"), 100, 120)
		b.call(history.OK, 1, "n0", "request", req(2, ""), req(2, "b1"), 1200, 1240)
		return b
	}
	ok := backends(LBArrival{"b0", "n0", 1, msT(101)}, LBArrival{"b2", "n0", 2, msT(1200)}, // b2 just died: within the bound
		LBArrival{"b1", "n0", 2, msT(1201)}, LBArrival{"b1", "n0", 3, msT(3100)}) // b1 is back
	r := LB(good().h, ok)
	if r.Valid != Valid {
		t.Fatalf("good history judged %s: %s", r.Valid, r.Summary)
	}
	d := r.Details.(LBDetails)
	if d.Answered != 2 || d.PerBackend["b1"] != 2 || d.PerBackend["b0"] != 1 || d.Latency.P99 != msT(40) {
		t.Fatalf("figures: %+v", d)
	}
	// CV over b0 (1) only: b1 and b2 had outages.
	if d.LoadCV != 0 || !strings.Contains(r.Summary, "b0:1 b1:2 b2:1") {
		t.Fatalf("load: %v %s", d.LoadCV, r.Summary)
	}

	late := backends(LBArrival{"b2", "n1", 2, msT(1501)}, LBArrival{"b1", "n0", 7, msT(2600)}, LBArrival{"b1", "n0", 2, msT(2400)})
	b := good()
	b.call(history.OK, 4, "n0", "request", req(7, ""), req(7, "b0"), 2550, 2700)
	r = LB(b.h, late)
	if r.Valid != Invalid || r.Details.(LBDetails).LateRequests != 2 {
		t.Fatalf("late requests judged %s: %s", r.Valid, r.Summary)
	}
	v := r.First()
	if v.What != "request to a dead backend" || v.Node != "n1" || v.Value != "b2" || v.Time != msT(1501) ||
		!strings.Contains(v.Detail, "501ms after b2 stopped answering at 1.000s") {
		t.Fatalf("first violation: %+v", v)
	}
	if r.Violations[1].Op == nil || r.Violations[1].Op.Process != 4 {
		t.Fatalf("the late request should point at the client op it served: %+v", r.Violations[1])
	}

	b = good()
	b.call(history.Fail, 2, "n1", "request", req(3, ""), req(3, ""), 300, 400)
	b.call(history.Info, 3, "n1", "request", req(4, ""), req(4, ""), 300, 5300)
	r = LB(b.h, ok)
	if r.Valid != Invalid || r.First().What != "unanswered request" || r.Details.(LBDetails).Unanswered != 2 ||
		!strings.Contains(r.First().Detail, "error 14") {
		t.Fatalf("unanswered judged %s: %s", r.Valid, r.Summary)
	}

	// Cut short by the end of the run: not counted.
	b = good()
	b.inv(2, "n1", "request", req(5, ""), 900)
	b.add(history.Info, 2, "n1", "request", req(5, ""), 1000)
	b.h[len(b.h)-1].Error = &history.Error{Code: -1, Name: "client-error", Text: "context canceled"}
	b.inv(3, "n1", "request", req(6, ""), 950)
	if r = LB(b.h, ok); r.Valid != Valid {
		t.Fatalf("requests cut short judged %s: %s", r.Valid, r.Summary)
	}
}

func TestCV(t *testing.T) {
	if cv(nil) != 0 || cv([]float64{0, 0}) != 0 || cv([]float64{5, 5, 5}) != 0 {
		t.Fatal("even or empty loads should have CV 0")
	}
	if got := cv([]float64{1, 3}); math.Abs(got-0.5) > 1e-9 {
		t.Fatalf("cv(1,3) = %v, want 0.5", got)
	}
}
