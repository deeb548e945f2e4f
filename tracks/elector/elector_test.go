package elector

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
)

func TestParseArgs(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"--heartbeat-ticks", "10", "--election-ticks", "10"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("ParseArgs(%q) accepted", args)
		}
	}
	cfg, err := ParseArgs([]string{"--fixed-timeout", "--no-prevote", "--tick", "20ms"})
	if err != nil || !cfg.FixedTimeout || cfg.PreVote || cfg.CheckQuorum || cfg.Tick.Milliseconds() != 20 {
		t.Fatalf("ParseArgs: %+v, %v", cfg, err)
	}
}

func TestStatusReply(t *testing.T) {
	for _, c := range []struct {
		s    raft.SoftState
		role string
	}{
		{raft.SoftState{Role: raft.Leader, Term: 3, Leader: "n1"}, "leader"},
		{raft.SoftState{Role: raft.PreCandidate, Term: 3}, "candidate"},
		{raft.SoftState{Role: raft.Candidate, Term: 4}, "candidate"},
		{raft.SoftState{Role: raft.Follower, Term: 4, Leader: "n2"}, "follower"},
	} {
		got := StatusReply(c.s)
		if got.Type != "status_ok" || got.Role != c.role || got.Term != c.s.Term || got.Leader != c.s.Leader {
			t.Errorf("StatusReply(%+v) = %+v, want role %s", c.s, got, c.role)
		}
	}
}
