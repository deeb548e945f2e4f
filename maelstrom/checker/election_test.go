package checker

import (
	"cmp"
	"slices"
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

// TestElectionSettlesWithinBound: just after a heal, a follower whose
// timer ran out before the leader's first heartbeat may depose the leader
// that won first; within the failover bound that is still the failover,
// measured to the leader that stays. The same change past the bound is a
// violation.
func TestElectionSettlesWithinBound(t *testing.T) {
	b := &builder{}
	b.polls(100, follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""), follower(0, ""))
	b.polls(600, follower(1, "n1"), leader(1), follower(1, "n1"), follower(1, "n1"), follower(1, "n1"))
	b.polls(700, follower(1, "n1"), follower(2, ""), ElectionStatus{Role: "candidate", Term: 2}, follower(1, "n1"), follower(1, "n1"))
	for ms := 900; ms <= 5000; ms += 400 {
		b.polls(ms, follower(2, "n2"), follower(2, "n2"), leader(2), follower(2, "n2"), follower(2, "n2"))
	}
	res := Election(b.h, fiveNodes, nil, 5*time.Second, ElectionLimits{})
	if res.Valid != Valid {
		t.Fatalf("a second election 100 ms after the first leader was judged %s: %s %+v", res.Valid, res.Summary, res.Violations)
	}
	d := res.Details.(ElectionDetails)
	if len(d.Failovers) != 1 || d.Failovers[0].Leader != "n2" || d.Failovers[0].Took != 900*time.Millisecond || d.FailoverMax != 900*time.Millisecond {
		t.Fatalf("failovers %+v, want one, to n2 in 900ms", d.Failovers)
	}

	// The same deposition 2.1 s after the start: the bound (2 s) has passed.
	b = healthy()
	b.call(history.OK, 2, "n2", "status", nil, ElectionStatus{Role: "candidate", Term: 2}, 2100, 2100)
	res = Election(b.h, fiveNodes, nil, 5*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "election while healthy")
	if v.Node != "n2" || v.Time != msT(2100) || !strings.Contains(v.Detail, "more than 2s before") {
		t.Fatalf("violation %+v should name n2 at 2.1s", v)
	}
}

// link is a link's traffic: one message of type typ every every ms from
// from ms to before to ms.
func link(src, dest, typ string, from, to, every int) LinkTraffic {
	l := LinkTraffic{Src: src, Dest: dest, ByType: map[string]int64{}}
	for ms := from; ms < to; ms += every {
		l.Sends = append(l.Sends, Send{At: msT(ms), Type: typ})
		l.Count++
		l.ByType[typ]++
	}
	return l
}

func TestElectionHeartbeatBudget(t *testing.T) {
	traffic := []LinkTraffic{
		link("n1", "n0", "raft_heartbeat", 0, 5000, 150),
		link("n1", "n2", "raft_heartbeat", 0, 5000, 20),
	}
	res := Election(healthy().h, fiveNodes, traffic, 5*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "heartbeat budget exceeded")
	// Counted from the leader's establishment at 600 ms, in 1 s windows.
	if v.Node != "n1" || v.Time != msT(600) || v.Value != "50 in 1s" || !strings.Contains(v.Detail, "follower n2") || !strings.Contains(v.Detail, "raft_heartbeat 50") {
		t.Fatalf("violation %+v should name n1 -> n2, 50 messages in the window from 600ms", v)
	}
	d := res.Details.(ElectionDetails)
	if d.MaxHeartbeat.Follower != "n2" || d.MaxHeartbeat.Max != 50 || d.MaxHeartbeat.Rate != 50 {
		t.Fatalf("max heartbeat %+v, want n1->n2 50 per second", d.MaxHeartbeat)
	}
	for _, hb := range d.Heartbeats {
		if hb.Follower == "n0" && hb.Max != 7 {
			t.Fatalf("n1->n0 every 150 ms: busiest window %+v, want 7", hb)
		}
	}
}

// A burst within one second exceeds the budget even when the average over
// the run is well under it.
func TestElectionHeartbeatBurst(t *testing.T) {
	burst := link("n1", "n3", "raft_append", 2000, 2600, 50) // 12 in 600 ms
	traffic := []LinkTraffic{link("n1", "n0", "raft_heartbeat", 0, 5000, 150), burst}
	res := Election(healthy().h, fiveNodes, traffic, 5*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "heartbeat budget exceeded")
	if v.Time != msT(2000) || v.Value != "12 in 1s" || !strings.Contains(v.Detail, "follower n3") || !strings.Contains(v.Detail, "raft_append 12") {
		t.Fatalf("violation %+v should name n1 -> n3, 12 messages in the window from 2s", v)
	}
}

// Only the established leader's messages to its followers while healthy
// count: not before the first election, not during a fault, not a
// follower's answers.
func TestElectionHeartbeatHealthyOnly(t *testing.T) {
	b := &builder{}
	for ms := 600; ms <= 5000; ms += 400 {
		if ms == 3400 {
			b.nemesis("start-partition", 3000).nemesis("stop-partition", 3500)
			ms = 3600
		}
		b.polls(ms, follower(1, "n1"), leader(1), follower(1, "n1"), follower(1, "n1"), follower(1, "n1"))
	}
	traffic := []LinkTraffic{
		link("n1", "n0", "raft_heartbeat", 0, 600, 20),       // before the first election
		link("n1", "n2", "raft_heartbeat", 3000, 3500, 20),   // during the partition
		link("n2", "n1", "raft_heartbeat_resp", 0, 5000, 20), // a follower's answers
		link("n3", "n4", "raft_prevote", 0, 5000, 20),        // not the leader
	}
	res := Election(b.h, fiveNodes, traffic, 5*time.Second, ElectionLimits{})
	if res.Valid != Valid {
		t.Fatalf("%s: %s %+v", res.Valid, res.Summary, res.Violations)
	}
	// The stricter bound catches the partition's burst once it is healthy.
	traffic[1] = link("n1", "n2", "raft_heartbeat", 3000, 4000, 20)
	v := mustInvalid(t, Election(b.h, fiveNodes, traffic, 5*time.Second, ElectionLimits{}), "heartbeat budget exceeded")
	if v.Time != msT(3600) || !strings.Contains(v.Detail, "follower n2") {
		t.Fatalf("violation %+v should be n1 -> n2 from the re-establishment at 3.6s", v)
	}
}

// On a link that uses the Raft core's names only heartbeats and empty
// appends count; appends with entries (a follower catching up) do not. A
// link with other names (a node in another language) has every message
// counted.
func TestElectionHeartbeatTypes(t *testing.T) {
	catchUp := link("n1", "n2", "raft_append", 1000, 1600, 50)
	for i := range catchUp.Sends {
		catchUp.Sends[i].Entries = 3
	}
	hb := link("n1", "n2", "raft_heartbeat", 600, 5000, 150)
	catchUp.Sends = append(catchUp.Sends, hb.Sends...)
	slices.SortStableFunc(catchUp.Sends, func(a, b Send) int { return cmp.Compare(a.At, b.At) })
	traffic := []LinkTraffic{catchUp}
	res := Election(healthy().h, fiveNodes, traffic, 5*time.Second, ElectionLimits{})
	if res.Valid != Valid {
		t.Fatalf("appends with entries were counted as heartbeats: %s %+v", res.Summary, res.Violations)
	}
	traffic = append(traffic, link("n1", "n3", "ping", 1000, 2000, 80)) // 13 in 1 s
	v := mustInvalid(t, Election(healthy().h, fiveNodes, traffic, 5*time.Second, ElectionLimits{}), "heartbeat budget exceeded")
	if !strings.Contains(v.Detail, "follower n3") || !strings.Contains(v.Detail, "ping 13") {
		t.Fatalf("violation %+v should count n1 -> n3's own message type", v)
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

// isolated: healthy() then n3 cut off by isolate-follower from 5.1 s to
// 8 s; after the heal every node is polled at 8.1 s and on, answering
// after(ms, node index).
func isolated(after func(ms, i int) ElectionStatus) *builder {
	b := healthy()
	b.add(history.Info, -1, "", "start-isolate", []string{"n3"}, 5100)
	b.add(history.Info, -1, "", "stop-isolate", []string{"n3"}, 8000)
	for ms := 8100; ms <= 11000; ms += 300 {
		var st []ElectionStatus
		for i := range fiveNodes {
			st = append(st, after(ms, i))
		}
		b.polls(ms, st...)
	}
	return b
}

// Without pre-vote the cut-off follower comes back in a higher term and
// deposes the leader that kept its majority: caught even though the new
// election is over before any poll could see the old leader again.
func TestElectionRejoiningNodeDisruptsTheLeader(t *testing.T) {
	b := isolated(func(_, i int) ElectionStatus {
		if i == 3 {
			return leader(6)
		}
		return follower(6, "n3")
	})
	res := Election(b.h, fiveNodes, nil, 11*time.Second, ElectionLimits{})
	v := mustInvalid(t, res, "rejoining node disrupted the leader")
	if v.Value != int64(6) || v.Time != msT(8100) || !strings.Contains(v.Detail, "n3") || !strings.Contains(v.Detail, "pre-vote") {
		t.Fatalf("violation %+v should name term 6 at 8.1s, the isolated n3 and pre-vote", v)
	}
}

// With pre-vote the follower rejoins in the leader's term: valid, and the
// isolation is counted as judged.
func TestElectionRejoiningNodeWithPreVote(t *testing.T) {
	b := isolated(func(_, i int) ElectionStatus {
		if i == 1 {
			return leader(1)
		}
		return follower(1, "n1")
	})
	res := Election(b.h, fiveNodes, nil, 11*time.Second, ElectionLimits{})
	if res.Valid != Valid || res.Details.(ElectionDetails).Isolations != 1 {
		t.Fatalf("%s: %s %+v", res.Valid, res.Summary, res.Violations)
	}
}

// --failovers 1: a run whose faults never took the leader away tested no
// failover and is unknown, saying why; one in which they did is valid.
func TestElectionFailoversRequired(t *testing.T) {
	same := healthy()
	same.nemesis("start-partition", 5100).nemesis("stop-partition", 6000)
	for ms := 6100; ms <= 9000; ms += 300 {
		same.polls(ms, follower(1, "n1"), leader(1), follower(1, "n1"), follower(1, "n1"), follower(1, "n1"))
	}
	res := Election(same.h, fiveNodes, nil, 9*time.Second, ElectionLimits{Failovers: 1})
	if res.Valid != Unknown || !strings.Contains(res.Summary, "no failover was tested") {
		t.Fatalf("want unknown for a run without a failover, got %s: %s", res.Valid, res.Summary)
	}
	moved := healthy()
	moved.nemesis("start-partition", 5100).nemesis("stop-partition", 6000)
	for ms := 6100; ms <= 9000; ms += 300 {
		moved.polls(ms, follower(2, "n2"), follower(2, "n2"), leader(2), follower(2, "n2"), follower(2, "n2"))
	}
	res = Election(moved.h, fiveNodes, nil, 9*time.Second, ElectionLimits{Failovers: 1})
	if res.Valid != Valid || res.Details.(ElectionDetails).LeaderChanges != 1 {
		t.Fatalf("want valid with one failover judged, got %s: %s", res.Valid, res.Summary)
	}
}
