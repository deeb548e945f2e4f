package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var fiveNodes = []string{"n0", "n1", "n2", "n3", "n4"}

// polls adds one status poll of every node at ms: st[i] is node i's answer.
func (b *builder) polls(ms int, st ...ElectionStatus) *builder {
	for i, s := range st {
		node := fiveNodes[i]
		b.call(history.OK, i, node, "status", nil, s, ms, ms)
	}
	return b
}

func leader(term int64) ElectionStatus { return ElectionStatus{Role: "leader", Term: term} }
func follower(term int64, l string) ElectionStatus {
	return ElectionStatus{Role: "follower", Term: term, Leader: l}
}

func (b *builder) nemesis(f string, ms int) *builder {
	return b.add(history.Info, -1, "", f, nil, ms)
}

// healthy: n1 leads term 1 from 600 ms to the end.
func healthy() *builder {
	b := &builder{}
	b.polls(100, follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""))
	for ms := 600; ms <= 5000; ms += 400 {
		b.polls(ms, follower(1, "n1"), leader(1), follower(1, "n1"), follower(1, "n1"), follower(1, "n1"))
	}
	return b
}

func TestElectionValid(t *testing.T) {
	res := Election(healthy().h, fiveNodes, []LinkTraffic{{Src: "n1", Dest: "n2", Count: 30, ByType: map[string]int64{"raft_heartbeat": 30}}}, 5*time.Second, ElectionLimits{})
	if res.Valid != Valid {
		t.Fatalf("%s: %s %+v", res.Valid, res.Summary, res.Violations)
	}
	d := res.Details.(ElectionDetails)
	if d.FailoverMax != 600*time.Millisecond || d.Busiest != "n1->n2" {
		t.Fatalf("failover max %v busiest %q, want 600ms and n1->n2", d.FailoverMax, d.Busiest)
	}
}

func TestElectionTwoLeadersInOneTerm(t *testing.T) {
	b := healthy()
	// n3 claims term 1 for itself while n1 leads it.
	b.call(history.OK, 3, "n3", "status", nil, leader(1), 5100, 5100)
	res := Election(b.h, fiveNodes, nil, 6*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "two leaders in one term")
	if v.Node != "n3" || v.Value != int64(1) || v.Time != msT(5100) || !strings.Contains(v.Detail, "n1") {
		t.Fatalf("violation %+v should name n3, term 1, 5.1s and the other leader n1", v)
	}
}

func TestElectionNoLeaderAfterHeal(t *testing.T) {
	b := healthy()
	b.nemesis("start-partition", 5100).nemesis("stop-partition", 6000)
	for ms := 6100; ms <= 9000; ms += 300 {
		b.polls(ms, follower(3, ""), ElectionStatus{Role: "candidate", Term: 3}, follower(3, ""), follower(3, ""), follower(3, ""))
	}
	res := Election(b.h, fiveNodes, nil, 9*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "no leader after heal")
	if v.Time != msT(8000) || !strings.Contains(v.Detail, "6.000s") {
		t.Fatalf("violation %+v should be at 8s for the heal at 6s", v)
	}
}

func TestElectionWhileHealthy(t *testing.T) {
	b := healthy()
	b.call(history.OK, 2, "n2", "status", nil, ElectionStatus{Role: "candidate", Term: 2}, 5200, 5200)
	res := Election(b.h, fiveNodes, nil, 6*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "election while healthy")
	if v.Node != "n2" || v.Value != int64(2) {
		t.Fatalf("violation %+v should name n2 and term 2", v)
	}
	// The same term change during a partition is no violation.
	b = healthy()
	b.nemesis("start-partition", 5100)
	b.call(history.OK, 2, "n2", "status", nil, ElectionStatus{Role: "candidate", Term: 2}, 5200, 5200)
	if res := Election(b.h, fiveNodes, nil, 6*time.Second, ElectionLimits{}); res.Valid != Valid {
		t.Fatalf("an election during a partition was judged %s: %s", res.Valid, res.Summary)
	}
}

func TestElectionHeartbeatBudget(t *testing.T) {
	traffic := []LinkTraffic{
		{Src: "n1", Dest: "n0", Count: 20, ByType: map[string]int64{"raft_heartbeat": 20}},
		{Src: "n1", Dest: "n2", Count: 250, ByType: map[string]int64{"raft_heartbeat": 250}},
	}
	res := Election(healthy().h, fiveNodes, traffic, 5*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "heartbeat budget exceeded")
	if v.Node != "n1" || !strings.Contains(v.Detail, "n2") || !strings.Contains(v.Detail, "raft_heartbeat 50.0/s") {
		t.Fatalf("violation %+v should name n1 -> n2 at 50/s", v)
	}
}

func TestElectionUndecided(t *testing.T) {
	if res := Election(nil, fiveNodes, nil, 0, ElectionLimits{}); res.Valid != Unknown {
		t.Fatalf("no polls: %s, want unknown", res.Valid)
	}
	// A run too short to see an election cannot be valid.
	b := (&builder{}).polls(100, follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""))
	if res := Election(b.h, fiveNodes, nil, time.Second, ElectionLimits{}); res.Valid != Unknown {
		t.Fatalf("1 s run without a leader: %s (%s), want unknown", res.Valid, res.Summary)
	}
}

func TestHealthyWindows(t *testing.T) {
	b := &builder{}
	b.nemesis("start-partition", 1000).nemesis("kill", 1500).nemesis("stop-partition", 2000).nemesis("restart", 3000)
	b.nemesis("pause", 4000).nemesis("resume", 4500)
	got := HealthyWindows(b.h, msT(6000))
	want := []Window{{0, msT(1000)}, {msT(3000), msT(4000)}, {msT(4500), msT(6000)}}
	if len(got) != len(want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("windows %v, want %v", got, want)
		}
	}
}

func mustInvalid(t *testing.T, res Result, what string) Violation {
	t.Helper()
	if res.Valid != Invalid || len(res.Violations) == 0 || res.Violations[0].What != what {
		t.Fatalf("want invalid with %q first, got %s: %s %+v", what, res.Valid, res.Summary, res.Violations)
	}
	return res.Violations[0]
}
