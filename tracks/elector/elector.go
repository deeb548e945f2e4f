// Package elector is the reference solution of the elector track: Raft
// leader election. Nodes are followers, candidates or the leader of a term;
// a follower that hears no heartbeat for a randomized election timeout
// asks for votes, a node votes once per term for a candidate whose log is
// at least as up to date as its own, a majority makes a leader, and any
// higher term turns a node back into a follower. Pre-vote and check-quorum
// keep a node cut off by a partition from disrupting a healthy leader when
// it returns.
//
// The algorithm is the shared Raft core (internal/raft) run by the shared
// driver (internal/raftnode); this package answers the grader's status
// polls (workload election) and chooses the configuration of each stage.
// tracks/elector/stages.tsv says how each stage is graded and README.md is
// the lesson.
package elector

import (
	"fmt"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raftnode"
)

// DefaultConfig is the reference configuration: 50 ms ticks, a heartbeat
// every 150 ms (well under the 10 per second budget), an election timeout
// of 500 ms to 1 s, pre-vote and check-quorum.
func DefaultConfig() raftnode.Config {
	return raftnode.Config{Tick: 50 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 3, PreVote: true, CheckQuorum: true}
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	cfg, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, cfg)
	return nil
}

const usage = "usage: elector [--tick D] [--election-ticks E] [--heartbeat-ticks H] [--fixed-timeout] [--no-prevote]"

// ParseArgs reads the node's flags on top of DefaultConfig.
func ParseArgs(args []string) (raftnode.Config, error) {
	cfg := DefaultConfig()
	fs := nodeflags.New("elector")
	cfg.RegisterFlags(fs)
	fs.BoolVar(&cfg.FixedTimeout, "fixed-timeout", false, "counter-example: every node waits exactly E ticks (no randomization)")
	noPreVote := fs.Bool("no-prevote", false, "disable pre-vote and check-quorum")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return cfg, err
	}
	if *noPreVote {
		cfg.PreVote, cfg.CheckQuorum = false, false
	}
	if cfg.HeartbeatTicks >= cfg.ElectionTicks {
		return cfg, fmt.Errorf("elector: --heartbeat-ticks (%d) must be below --election-ticks (%d)", cfg.HeartbeatTicks, cfg.ElectionTicks)
	}
	return cfg, nil
}

// Setup runs leader election with cfg on n and answers status polls.
func Setup(n *node.Node, cfg raftnode.Config) *raftnode.Driver {
	d := raftnode.New(n, cfg, nil)
	node.HandleTyped(n, "status", func(node.Message, struct{}) (any, error) {
		return StatusReply(d.Status()), nil
	})
	return d
}

// StatusBody is the reply to the grader's status poll.
type StatusBody struct {
	Type   string `json:"type"`
	Role   string `json:"role"`
	Term   uint64 `json:"term"`
	Leader string `json:"leader,omitempty"`
}

// StatusReply renders a node's soft state as a status_ok body. A
// pre-candidate is reported as a candidate: it is campaigning, though it
// has not bumped its term yet.
func StatusReply(s raft.SoftState) StatusBody {
	role := "follower"
	switch s.Role {
	case raft.Leader:
		role = "leader"
	case raft.Candidate, raft.PreCandidate:
		role = "candidate"
	}
	return StatusBody{Type: "status_ok", Role: role, Term: s.Term, Leader: s.Leader}
}
