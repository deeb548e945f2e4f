package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var availNodes = []string{"n0", "n1", "n2", "n3", "n4"}

// splitGrudge cuts {n0 n1} from {n2 n3 n4}, as the nemesis records it.
func splitGrudge() map[string][]string {
	return map[string][]string{
		"n0": {"n2", "n3", "n4"}, "n1": {"n2", "n3", "n4"},
		"n2": {"n0", "n1"}, "n3": {"n0", "n1"}, "n4": {"n0", "n1"},
	}
}

// withError sets the error of the last entry.
func (b *builder) withError(code int, name string) *builder {
	b.h[len(b.h)-1].Error = &history.Error{Code: code, Name: name}
	return b
}

// partitioned builds: one ok op before the partition, then during it
// majority-side ops (on n2, n3) as majorityOK says and minority-side ops
// (on n0, n1) failing with "temporarily unavailable", then one op after.
func partitioned(majorityOK bool) history.History {
	b := (&builder{}).call(history.OK, 0, "n0", "read", nil, nil, 1, 2).
		add(history.Info, -1, "", "start-partition", splitGrudge(), 10).
		call(history.OK, 1, "n2", "write", 1, 1, 11, 12).
		call(history.Fail, 2, "n3", "cas", []int{1, 9}, nil, 13, 14).withError(22, "precondition-failed").
		call(history.Fail, 3, "n0", "read", nil, nil, 15, 16).withError(11, "temporarily-unavailable").
		call(history.Info, 4, "n1", "write", 2, nil, 17, 1017)
	if majorityOK {
		b.call(history.OK, 5, "n4", "read", nil, 1, 1020, 1021)
	} else {
		b.call(history.Info, 5, "n4", "cas", []int{1, 2}, nil, 1020, 2020)
	}
	return b.add(history.Info, -1, "", "stop-partition", "network-healed", 3000).
		call(history.OK, 6, "n1", "read", nil, 1, 3001, 3002).h
}

func TestAvailabilityBySide(t *testing.T) {
	res := AvailabilityOf(partitioned(true), "majority", availNodes)
	if res.Valid != Valid {
		t.Fatalf("want valid, got %s: %s", res.Valid, res.Summary)
	}
	d := res.Details.(AvailabilityDetails)
	want := AvailabilityDetails{
		OKFraction: 4.0 / 7, OKCount: 4, Count: 7, Goal: "majority",
		MajoritySide:      AvailabilityShare{Count: 3, OKCount: 2, Answered: 3, OKFraction: 2.0 / 3, AnsweredFraction: 1},
		MinoritySide:      AvailabilityShare{Count: 2, OKCount: 0, Answered: 0},
		OutsidePartitions: AvailabilityShare{Count: 2, OKCount: 2, Answered: 2, OKFraction: 1, AnsweredFraction: 1},
	}
	if d != want {
		t.Errorf("details\n got %+v\nwant %+v", d, want)
	}
	for _, s := range []string{"majority side ok 0.6667 (2 of 3; answered 1.0000)", "minority side ok 0.0000 (0 of 2)", "outside partitions ok 1.0000 (2 of 2)", "meets the goal majority (0.9)"} {
		if !strings.Contains(res.Summary, s) {
			t.Errorf("summary lacks %q: %s", s, res.Summary)
		}
	}
	// Without a goal the figures are there and the run is valid.
	if res := Availability(partitioned(false), ""); res.Valid != Valid || !strings.Contains(res.Summary, "majority side ok 0.3333 (1 of 3; answered 0.6667)") {
		t.Errorf("no goal: %s %s", res.Valid, res.Summary)
	}
}

func TestAvailabilityMajorityGoalFails(t *testing.T) {
	for _, spec := range []string{"majority", "majority:0.95"} {
		res := AvailabilityOf(partitioned(false), spec, availNodes)
		if res.Valid != Invalid {
			t.Fatalf("%s: want invalid, got %s: %s", spec, res.Valid, res.Summary)
		}
		v := res.First()
		if v == nil || v.Node != "n4" || v.Op == nil || v.Op.F != "cas" || v.Time != msT(2020) {
			t.Fatalf("%s: violation %+v", spec, v)
		}
		for _, s := range []string{"answered 0.6667 (2 of 3), below the availability goal " + spec, "cas on n4 (p5), invoked at 1.020s, ending info at 2.020s", "n4 could reach n2, n3, n4"} {
			if !strings.Contains(res.Summary, s) {
				t.Errorf("%s: summary lacks %q: %s", spec, s, res.Summary)
			}
		}
	}
	if res := AvailabilityOf(partitioned(false), "majority:0.6", availNodes); res.Valid != Valid {
		t.Errorf("majority:0.6: want valid, got %s: %s", res.Valid, res.Summary)
	}
}

func TestAvailabilityMajorityGoalEdges(t *testing.T) {
	noPartition := (&builder{}).call(history.OK, 0, "n0", "read", nil, nil, 1, 2).h
	if res := Availability(noPartition, "majority"); res.Valid != Unknown {
		t.Errorf("no partition: want unknown, got %s: %s", res.Valid, res.Summary)
	}
	for _, spec := range []string{"majority:", "majority:1.5", "minority", "majority:x"} {
		if res := Availability(noPartition, spec); res.Valid != Unknown {
			t.Errorf("%q: want unknown, got %s", spec, res.Valid)
		}
		if _, _, err := ParseAvailabilityGoal(spec); err == nil {
			t.Errorf("%q parsed", spec)
		}
	}
	// A grudge decoded from JSON, a ring where every node sees a majority
	// (n0 ignores only n2 and n3 and is ignored by nobody else).
	ring := map[string]any{"n0": []any{"n2", "n3"}, "n2": []any{"n0"}, "n3": []any{"n0"}}
	h := (&builder{}).add(history.Info, -1, "", "start-partition", ring, 0).
		call(history.OK, 0, "n0", "read", nil, nil, 1, 2).
		call(history.OK, 1, "n2", "read", nil, nil, 3, 4).h
	res := AvailabilityOf(h, "majority:1", availNodes)
	if d := res.Details.(AvailabilityDetails); res.Valid != Valid || d.MajoritySide.Count != 2 || d.MinoritySide.Count != 0 {
		t.Errorf("ring: %s %+v", res.Valid, d)
	}
	// The nodes default to those the history names: here the grudge's five.
	h = (&builder{}).add(history.Info, -1, "", "start-partition", splitGrudge(), 0).
		call(history.OK, 0, "n0", "read", nil, nil, 1, 2).h
	if d := Availability(h, "").Details.(AvailabilityDetails); d.MinoritySide.Count != 1 {
		t.Errorf("derived nodes: %+v", d)
	}
}
