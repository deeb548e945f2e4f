package raft

import "testing"

// A follower that lost entries it had acknowledged (a wiped disk) rejects
// the probe at its old match index with a hint below it. The leader cannot
// go below the match, so it must not resend at once: leader and follower
// would exchange the same two messages forever, with no time passing.
func TestRejectBelowMatchDoesNotLoop(t *testing.T) {
	r := newTestRaft(t, "1", five, 1, 1, 1, 1)
	r.becomeCandidate()
	r.becomeLeader() // no-op at index 4
	drain(r)
	if err := r.Step(Message{Type: MsgAppResp, From: "2", Term: r.term, Index: 4}); err != nil {
		t.Fatal(err)
	}
	drain(r)
	r.prs["2"].becomeProbe()
	if err := r.Step(Message{Type: MsgAppResp, From: "2", Term: r.term, Index: 4, Reject: true, RejectHint: 0}); err != nil {
		t.Fatal(err)
	}
	if apps := only(t, drain(r), MsgApp); len(apps) != 0 {
		t.Fatalf("leader resent %d appends at once after a rejection below the match index: %+v", len(apps), apps)
	}
	// The next heartbeat answer probes again, once.
	if err := r.Step(Message{Type: MsgHeartbeatResp, From: "2", Term: r.term}); err != nil {
		t.Fatal(err)
	}
	if apps := only(t, drain(r), MsgApp); len(apps) != 1 || apps[0].To != "2" {
		t.Fatalf("want one probe to 2 after its heartbeat answer, got %+v", apps)
	}
}
