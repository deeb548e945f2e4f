package raft

import "testing"

func newRepairing(t *testing.T, id string, peers []string, term uint64) *Raft {
	t.Helper()
	s := NewMemoryStorage()
	if err := s.Save(Update{Entries: []Entry{{Index: 1, Term: 1}}, HardState: HardState{Term: term, Commit: 1, Repairing: true}}); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{ID: id, Peers: peers, Storage: s})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A repairing node never campaigns, grants no vote or pre-vote, asks for
// terms only after its wait, and learns the highest term from n-q+1
// healthy peers (repairing ones do not answer).
func TestRepairingNodeSitsOut(t *testing.T) {
	r := newRepairing(t, "1", five, 2)
	for range 100 {
		r.Tick()
		for _, m := range drain(r) {
			if m.Type == MsgVote || m.Type == MsgPreVote {
				t.Fatalf("repairing node campaigns: %+v", m)
			}
		}
	}
	for _, typ := range []MessageType{MsgVote, MsgPreVote} {
		if err := r.Step(Message{Type: typ, From: "2", Term: 9, Index: 5, LogTerm: 5}); err != nil {
			t.Fatal(err)
		}
		for _, m := range drain(r) {
			if (m.Type == MsgVoteResp || m.Type == MsgPreVoteResp) && !m.Reject {
				t.Fatalf("repairing node grants %s: %+v", typ, m)
			}
		}
	}
	// A repairing peer does not answer a query.
	other := newRepairing(t, "2", five, 3)
	if err := other.Step(Message{Type: MsgRepairQuery, From: "1", Term: 1, Seq: 40}); err != nil {
		t.Fatal(err)
	}
	if ms := drain(other); len(ms) != 0 {
		t.Fatalf("repairing peer answered a repair query: %+v", ms)
	}

	// Fresh node: the query goes out only after 3E ticks.
	r = newRepairing(t, "1", five, 2)
	var seq uint64
	for i := 1; seq == 0; i++ {
		r.Tick()
		if qs := only(t, drain(r), MsgRepairQuery); len(qs) > 0 {
			if len(qs) != 4 || uint64(i) < r.repairWaitTicks() {
				t.Fatalf("tick %d: %d queries", i, len(qs))
			}
			seq = qs[0].Seq
		}
	}
	// Appends are ignored until the term is known.
	if err := r.Step(Message{Type: MsgApp, From: "2", Term: 4, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 4}}}); err != nil {
		t.Fatal(err)
	}
	if ms := only(t, drain(r), MsgAppResp); len(ms) != 0 || r.log.lastIndex() != 1 {
		t.Fatalf("appended before knowing the term: %+v", ms)
	}
	for i, from := range []string{"2", "3", "4"} {
		if r.repairKnown {
			t.Fatalf("term known after %d answers of the 3 needed", i)
		}
		if err := r.Step(Message{Type: MsgRepairQueryResp, From: from, Term: uint64(5 + i%2*3), Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	if !r.repairKnown || r.term != 8 {
		t.Fatalf("after three answers: known %v, term %d; want term 8", r.repairKnown, r.term)
	}
	// Knowing its term, it answers other repairing nodes' queries.
	if err := r.Step(Message{Type: MsgRepairQuery, From: "5", Term: 1, Seq: 40}); err != nil {
		t.Fatal(err)
	}
	if as := only(t, drain(r), MsgRepairQueryResp); len(as) != 1 || as[0].Term != 8 || as[0].Seq != 40 {
		t.Fatalf("want an answer with term 8, got %+v", as)
	}
	// Now it replicates, marking its answers; the leader of term 8 repairs it.
	if err := r.Step(Message{Type: MsgApp, From: "3", Term: 8, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 8}}}); err != nil {
		t.Fatal(err)
	}
	resp := only(t, drain(r), MsgAppResp)
	if len(resp) != 1 || resp[0].Reject || resp[0].Index != 2 || !resp[0].Repair {
		t.Fatalf("want a marked acknowledgement of 2, got %+v", resp)
	}
	if err := r.Step(Message{Type: MsgHeartbeat, From: "3", Term: 8, Commit: 2, Repair: true}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	r.Advance(rd)
	if r.repairing || rd.HardState.Repairing || rd.HardState.Vote != "3" || rd.HardState.Term != 8 {
		t.Fatalf("after the leader's word: repairing %v, hard state %+v; want repaired, vote 3 in term 8", r.repairing, rd.HardState)
	}
}

// The leader counts a repairing follower's acknowledgements toward no
// quorum, and declares it repaired once it holds the leader's log as of
// when the leader learned of the repair.
func TestLeaderRepairsFollower(t *testing.T) {
	r := newTestRaft(t, "1", []string{"1", "2", "3"}, 1, 1, 1)
	r.becomeCandidate()
	r.becomeLeader() // no-op at 3, term 2
	drain(r)
	if err := r.Step(Message{Type: MsgAppResp, From: "2", Term: 2, Index: 3, Repair: true}); err != nil {
		t.Fatal(err)
	}
	if r.log.committed == 3 {
		t.Fatal("committed on a repairing follower's acknowledgement")
	}
	if pr := r.prs["2"]; !pr.repairing || pr.repairTarget != 3 {
		t.Fatalf("progress %+v", pr)
	}
	r.bcastHeartbeat()
	hbs := only(t, drain(r), MsgHeartbeat)
	for _, hb := range hbs {
		if hb.To == "2" && !hb.Repair {
			t.Fatalf("follower 2 holds the leader's log but was not told: %+v", hb)
		}
	}
	// Its next (unmarked) answer counts.
	if err := r.Step(Message{Type: MsgAppResp, From: "2", Term: 2, Index: 3}); err != nil {
		t.Fatal(err)
	}
	if r.log.committed != 3 {
		t.Fatalf("commit %d after a repaired follower's acknowledgement, want 3", r.log.committed)
	}
}

// A one-node cluster has nobody to repair from: damaged storage is refused.
func TestRepairNeedsPeers(t *testing.T) {
	s := NewMemoryStorage()
	if err := s.Save(Update{HardState: HardState{Term: 1, Repairing: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{ID: "1", Peers: []string{"1"}, Storage: s}); err == nil {
		t.Fatal("a single node started on damaged storage")
	}
}
