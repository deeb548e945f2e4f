package raft

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// newTestRaft makes node id of peers with a log of the given terms
// (entry i+1 has terms[i]) and the given hard state term.
func newTestRaft(t *testing.T, id string, peers []string, term uint64, terms ...uint64) *Raft {
	t.Helper()
	s := NewMemoryStorage()
	var es []Entry
	for i, tm := range terms {
		es = append(es, Entry{Index: uint64(i + 1), Term: tm})
	}
	if len(es) > 0 {
		if err := s.Save(Update{Entries: es}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(Update{HardState: HardState{Term: term}}); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{ID: id, Peers: peers, Storage: s})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var five = []string{"1", "2", "3", "4", "5"}

// drain hands out a Ready and returns its messages.
func drain(r *Raft) []Message {
	rd := r.Ready()
	r.Advance(rd)
	return rd.Messages
}

func only(t *testing.T, ms []Message, typ MessageType) []Message {
	t.Helper()
	var out []Message
	for _, m := range ms {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// Figure 8 of the Raft paper: entry 2 of term 2 reaches a majority while
// a leader of term 4 leads; it must not be committed by counting, because
// a node with the term-3 entry at index 2 could still be elected and
// overwrite it. It commits once an entry of term 4 is on a majority.
func TestFigure8CommitRule(t *testing.T) {
	r := newTestRaft(t, "1", five, 3, 1, 2)
	r.becomeCandidate() // term 4
	r.becomeLeader()    // appends its no-op at index 3
	drain(r)
	if r.term != 4 || r.log.lastIndex() != 3 {
		t.Fatalf("setup: term %d last %d", r.term, r.log.lastIndex())
	}
	for _, f := range []string{"2", "3"} {
		if err := r.Step(Message{Type: MsgAppResp, From: f, Term: 4, Index: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if r.log.committed >= 2 {
		t.Fatalf("committed %d: an entry of an earlier term was committed by counting", r.log.committed)
	}
	r.Step(Message{Type: MsgAppResp, From: "2", Term: 4, Index: 3})
	r.Step(Message{Type: MsgAppResp, From: "3", Term: 4, Index: 3})
	if r.log.committed != 3 {
		t.Fatalf("committed %d, want 3 once the term-4 entry is on a majority", r.log.committed)
	}
}

func TestVoteRules(t *testing.T) {
	peers := []string{"1", "2", "3"}
	r := newTestRaft(t, "1", peers, 2, 1, 2) // last entry (2, term 2)
	cases := []struct {
		from         string
		term, li, lt uint64
		grant        bool
	}{
		{"2", 3, 5, 1, false}, // longer log of an older term is not up to date
		{"2", 3, 1, 2, false}, // same last term, shorter log
		{"2", 3, 2, 2, true},  // as up to date
		{"3", 3, 9, 9, false}, // already voted for 2 in term 3
		{"2", 3, 2, 2, true},  // a repeated request from 2 is granted again
		{"3", 4, 2, 2, true},  // a new term, a new vote
	}
	for i, c := range cases {
		if err := r.Step(Message{Type: MsgVote, From: c.from, Term: c.term, Index: c.li, LogTerm: c.lt}); err != nil {
			t.Fatal(err)
		}
		ms := only(t, drain(r), MsgVoteResp)
		if len(ms) != 1 || ms[0].Reject == c.grant || ms[0].To != c.from {
			t.Fatalf("case %d: got %+v, want grant=%v", i, ms, c.grant)
		}
	}
}

// The vote is in the Ready's HardState along with the grant, and a node
// restarted from storage does not vote twice in a term.
func TestVotePersisted(t *testing.T) {
	peers := []string{"1", "2", "3"}
	s := NewMemoryStorage()
	r, _ := New(Config{ID: "1", Peers: peers, Storage: s})
	drain(r)
	r.Step(Message{Type: MsgVote, From: "2", Term: 1})
	rd := r.Ready()
	if rd.HardState.Vote != "2" || rd.HardState.Term != 1 {
		t.Fatalf("hard state %+v does not record the vote", rd.HardState)
	}
	s.Save(rd.Update())
	r2, _ := New(Config{ID: "1", Peers: peers, Storage: s})
	drain(r2)
	r2.Step(Message{Type: MsgVote, From: "3", Term: 1})
	if ms := only(t, drain(r2), MsgVoteResp); len(ms) != 1 || !ms[0].Reject {
		t.Fatalf("restarted node voted twice in term 1: %+v", ms)
	}
}

func TestPreVoteLeavesNoTrace(t *testing.T) {
	peers := []string{"1", "2", "3"}
	r := newTestRaft(t, "1", peers, 2, 1, 2)
	r.Step(Message{Type: MsgPreVote, From: "2", Term: 3, Index: 2, LogTerm: 2})
	ms := only(t, drain(r), MsgPreVoteResp)
	if len(ms) != 1 || ms[0].Reject || ms[0].Term != 3 {
		t.Fatalf("pre-vote not granted for term 3: %+v", ms)
	}
	if r.term != 2 || r.vote != "" {
		t.Fatalf("pre-vote changed state: term %d vote %q", r.term, r.vote)
	}
	// A pre-candidate moves to a real campaign only with a quorum of grants.
	c := newTestRaft(t, "3", peers, 2, 1, 2)
	c.cfg.PreVote = true
	for c.role == Follower {
		c.Tick()
	}
	if c.role != PreCandidate || c.term != 2 {
		t.Fatalf("role %v term %d, want pre-candidate in term 2", c.role, c.term)
	}
	c.Step(Message{Type: MsgPreVoteResp, From: "1", Term: 3})
	if c.role != Candidate || c.term != 3 || c.vote != "3" {
		t.Fatalf("role %v term %d vote %q, want candidate in 3", c.role, c.term, c.vote)
	}
}

func TestStepDownOnHigherTerm(t *testing.T) {
	peers := []string{"1", "2", "3"}
	for _, typ := range []MessageType{MsgApp, MsgHeartbeat, MsgAppResp, MsgVoteResp, MsgHeartbeatResp} {
		r := newTestRaft(t, "1", peers, 1)
		r.becomeCandidate()
		r.becomeLeader()
		drain(r)
		r.Step(Message{Type: typ, From: "2", Term: 5})
		if r.role != Follower || r.term != 5 {
			t.Fatalf("%s: role %v term %d after a term-5 message", typ, r.role, r.term)
		}
	}
}

func TestRandomizedElectionTimeout(t *testing.T) {
	r := newTestRaft(t, "1", []string{"1", "2", "3"}, 0)
	seen := map[int]bool{}
	for range 1000 {
		r.becomeFollower(r.term, "")
		to := r.randomizedElectionTimeout
		if to < r.cfg.ElectionTicks || to >= 2*r.cfg.ElectionTicks {
			t.Fatalf("timeout %d outside [%d, %d)", to, r.cfg.ElectionTicks, 2*r.cfg.ElectionTicks)
		}
		seen[to] = true
	}
	if len(seen) != r.cfg.ElectionTicks {
		t.Fatalf("timeouts take %d distinct values, want %d", len(seen), r.cfg.ElectionTicks)
	}
}

// A follower whose log diverges truncates from the first conflict, and
// points the leader past a whole term of mismatching entries.
func TestFollowerConflict(t *testing.T) {
	peers := []string{"1", "2", "3"}
	r := newTestRaft(t, "2", peers, 3, 1, 1, 2, 2, 2, 2)
	// Leader of term 4 whose log is 1 1 3 3 3 3 3 probes at index 6.
	r.Step(Message{Type: MsgApp, From: "1", Term: 4, Index: 6, LogTerm: 3})
	ms := only(t, drain(r), MsgAppResp)
	if len(ms) != 1 || !ms[0].Reject || ms[0].RejectHint != 6 || ms[0].LogTerm != 2 {
		t.Fatalf("rejection %+v, want hint (6, term 2)", ms)
	}
	// The leader's log has no term-2 entry: it goes straight to index 2.
	leader := newTestRaft(t, "1", peers, 3, 1, 1, 3, 3, 3, 3, 3)
	leader.becomeCandidate()
	leader.becomeLeader()
	drain(leader)
	leader.prs["2"].next = 7
	leader.Step(Message{Type: MsgAppResp, From: "2", Term: 4, Index: 6, Reject: true, RejectHint: 6, LogTerm: 2})
	app := only(t, drain(leader), MsgApp)
	if len(app) != 1 || app[0].Index != 2 {
		t.Fatalf("after the hint the leader probes %+v, want previous index 2", app)
	}
	// Matching at 2, the follower replaces everything after it.
	r.Step(Message{Type: MsgApp, From: "1", Term: 4, Index: 2, LogTerm: 1,
		Entries: []Entry{{Index: 3, Term: 3}, {Index: 4, Term: 3}}, Commit: 3})
	ms = only(t, drain(r), MsgAppResp)
	if len(ms) != 1 || ms[0].Reject || ms[0].Index != 4 {
		t.Fatalf("append response %+v", ms)
	}
	var terms []uint64
	for _, e := range r.log.entries {
		terms = append(terms, e.Term)
	}
	if !reflect.DeepEqual(terms, []uint64{1, 1, 3, 3}) || r.log.committed != 3 {
		t.Fatalf("log terms %v commit %d", terms, r.log.committed)
	}
}

// A follower commits only what it knows matches the leader: entries past
// the last one the append vouched for may be an old leader's leftovers.
func TestFollowerCommitBound(t *testing.T) {
	r := newTestRaft(t, "2", []string{"1", "2", "3"}, 2, 1, 1, 2, 2)
	r.Step(Message{Type: MsgApp, From: "1", Term: 3, Index: 2, LogTerm: 1, Commit: 4})
	if r.log.committed != 2 {
		t.Fatalf("committed %d, want 2: entries 3-4 were not vouched for", r.log.committed)
	}
	r.Step(Message{Type: MsgHeartbeat, From: "1", Term: 3, Commit: 2})
	if r.log.committed != 2 {
		t.Fatalf("committed %d after heartbeat", r.log.committed)
	}
}

func TestProposeNotLeader(t *testing.T) {
	r := newTestRaft(t, "1", []string{"1", "2", "3"}, 1)
	r.Step(Message{Type: MsgHeartbeat, From: "2", Term: 1})
	_, _, err := r.Propose([]byte("x"))
	var nl *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.Leader != "2" {
		t.Fatalf("got %v, want a NotLeaderError naming 2", err)
	}
}

func TestSingleNode(t *testing.T) {
	r, _ := New(Config{ID: "a", Peers: []string{"a"}})
	for r.role != Leader {
		r.Tick()
	}
	idx, _, err := r.Propose([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if n := len(rd.CommittedEntries); n == 0 || rd.CommittedEntries[n-1].Index != idx {
		t.Fatalf("single node did not commit its proposal: %+v", rd.CommittedEntries)
	}
	r.Advance(rd)
	if err := r.ReadIndex([]byte("r")); err != nil {
		t.Fatal(err)
	}
	if rs := r.Ready().ReadStates; len(rs) != 1 || rs[0].Index != idx {
		t.Fatalf("read states %+v", rs)
	}
}

// ReadIndex waits for a quorum to acknowledge a heartbeat sent after the
// request, and answers with the commit index at request time.
func TestReadIndexNeedsQuorum(t *testing.T) {
	r := newTestRaft(t, "1", five, 1)
	r.becomeCandidate()
	r.becomeLeader()
	drain(r)
	for _, f := range []string{"2", "3"} {
		r.Step(Message{Type: MsgAppResp, From: f, Term: 2, Index: 1})
	}
	drain(r)
	if err := r.ReadIndex([]byte("ctx")); err != nil {
		t.Fatal(err)
	}
	hb := only(t, drain(r), MsgHeartbeat)
	if len(hb) != 4 {
		t.Fatalf("sent %d heartbeats, want 4", len(hb))
	}
	seq := hb[0].Seq
	r.Step(Message{Type: MsgHeartbeatResp, From: "2", Term: 2, Seq: seq - 1}) // an older round does not count
	r.Step(Message{Type: MsgHeartbeatResp, From: "3", Term: 2, Seq: seq})
	if rd := r.Ready(); len(rd.ReadStates) != 0 {
		t.Fatalf("read answered with 2 of 5: %+v", rd.ReadStates)
	}
	r.Step(Message{Type: MsgHeartbeatResp, From: "4", Term: 2, Seq: seq})
	rs := r.Ready().ReadStates
	if len(rs) != 1 || rs[0].Index != 1 || string(rs[0].RequestCtx) != "ctx" {
		t.Fatalf("read states %+v, want index 1", rs)
	}
}

// Before the leader's no-op commits, its commit index may lag: reads wait.
func TestReadIndexWaitsForCommitInTerm(t *testing.T) {
	r := newTestRaft(t, "1", []string{"1", "2", "3"}, 1, 1, 1)
	r.becomeCandidate()
	r.becomeLeader()
	drain(r)
	r.ReadIndex([]byte("a"))
	r.Tick()
	hb0 := only(t, drain(r), MsgHeartbeat)
	r.Step(Message{Type: MsgHeartbeatResp, From: "2", Term: 2, Seq: hb0[0].Seq})
	if rs := r.Ready().ReadStates; len(rs) != 0 {
		t.Fatalf("read answered before a commit in the term: %+v", rs)
	}
	r.Step(Message{Type: MsgAppResp, From: "2", Term: 2, Index: 3})
	hb := only(t, drain(r), MsgHeartbeat)
	if len(hb) == 0 {
		t.Fatal("no heartbeat round for the waiting read")
	}
	r.Step(Message{Type: MsgHeartbeatResp, From: "2", Term: 2, Seq: hb[0].Seq})
	if rs := r.Ready().ReadStates; len(rs) != 1 || rs[0].Index != 3 {
		t.Fatalf("read states %+v, want index 3", rs)
	}
}

func TestLeaseRead(t *testing.T) {
	peers := []string{"1", "2", "3"}
	s := NewMemoryStorage()
	r, err := New(Config{ID: "1", Peers: peers, Storage: s, CheckQuorum: true, LeaseRead: true})
	if err != nil {
		t.Fatal(err)
	}
	r.becomeCandidate()
	r.becomeLeader()
	drain(r)
	r.Step(Message{Type: MsgAppResp, From: "2", Term: 1, Index: 1})
	r.Tick() // heartbeat round
	hb := only(t, drain(r), MsgHeartbeat)
	r.Step(Message{Type: MsgHeartbeatResp, From: "2", Term: 1, Seq: hb[0].Seq})
	if !r.LeaseValid() {
		t.Fatal("lease not valid right after a quorum acknowledged a heartbeat")
	}
	r.ReadIndex([]byte("fast"))
	if rs := r.Ready().ReadStates; len(rs) != 1 {
		t.Fatalf("lease read not answered at once: %+v", rs)
	}
	// Without further acknowledgements the lease runs out before an
	// election timeout, and well before followers would vote again.
	for range r.cfg.ElectionTicks - r.cfg.LeaseMarginTicks {
		r.Tick()
		drain(r)
	}
	if r.LeaseValid() {
		t.Fatal("lease still valid after E-margin ticks without acknowledgements")
	}
	// A follower that heard from the leader ignores a candidate meanwhile.
	f, _ := New(Config{ID: "2", Peers: peers, CheckQuorum: true, LeaseRead: true})
	f.Step(Message{Type: MsgHeartbeat, From: "1", Term: 1})
	drain(f)
	f.Step(Message{Type: MsgVote, From: "3", Term: 2})
	if ms := drain(f); len(ms) != 0 || f.term != 1 {
		t.Fatalf("follower in lease answered a vote request: %+v (term %d)", ms, f.term)
	}
}

func TestCompact(t *testing.T) {
	r, _ := New(Config{ID: "a", Peers: []string{"a"}})
	for r.role != Leader {
		r.Tick()
	}
	for range 5 {
		r.Propose([]byte("x"))
	}
	if err := r.Compact(3, []byte("s")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("compacting unapplied entries: %v", err)
	}
	rd := r.Ready()
	r.Advance(rd)
	if err := r.Compact(3, []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := r.Compact(2, []byte("s")); !errors.Is(err, ErrCompacted) {
		t.Fatalf("compacting below the snapshot: %v", err)
	}
	rd = r.Ready()
	if rd.Compacted == nil || rd.Compacted.Meta.Index != 3 || rd.Compacted.Meta.Term != 1 || rd.Snapshot != nil {
		t.Fatalf("ready %+v", rd)
	}
	if st := r.Status(); st.FirstIndex != 4 || st.LastIndex != 6 {
		t.Fatalf("log [%d, %d] after compacting to 3", st.FirstIndex, st.LastIndex)
	}
}

func TestMessageJSON(t *testing.T) {
	m := Message{Type: MsgApp, From: "n1", To: "n2", Term: 3, LogTerm: 2, Index: 7, Commit: 6,
		Entries:  []Entry{{Term: 3, Index: 8, Data: []byte{0, 1, 2}}, {Term: 3, Index: 9, Type: EntryNoop}},
		Snapshot: &Snapshot{Meta: SnapshotMeta{Index: 5, Term: 2, Peers: []string{"n1"}}, Data: []byte("s")}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, got) {
		t.Fatalf("round trip:\n%+v\n%+v", m, got)
	}
	var body map[string]any
	json.Unmarshal(b, &body)
	if body["type"] != "raft_append" {
		t.Fatalf("type field %v", body["type"])
	}
	ss, _ := json.Marshal(SoftState{Role: Leader, Term: 2, Leader: "n1"})
	if string(ss) != `{"role":"leader","term":2,"leader":"n1"}` {
		t.Fatalf("soft state JSON %s", ss)
	}
}

func TestUnknownPeerAndType(t *testing.T) {
	r := newTestRaft(t, "1", []string{"1", "2", "3"}, 1)
	if err := r.Step(Message{Type: MsgApp, From: "9", Term: 1}); err == nil {
		t.Fatal("message from a stranger accepted")
	}
	if err := r.Step(Message{Type: "raft_bogus", From: "2", Term: 1}); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestMalformedAppend(t *testing.T) {
	r := newTestRaft(t, "2", []string{"1", "2", "3"}, 1, 1, 1)
	r.log.commitTo(2)
	for _, m := range []Message{
		// Not contiguous.
		{Type: MsgApp, From: "1", Term: 2, Index: 2, LogTerm: 1, Entries: []Entry{{Index: 4, Term: 2}}},
		// An entry from a later term than the message.
		{Type: MsgApp, From: "1", Term: 2, Index: 2, LogTerm: 1, Entries: []Entry{{Index: 3, Term: 5}}},
	} {
		if err := r.Step(m); err == nil {
			t.Fatalf("accepted %+v", m)
		}
	}
	if r.log.lastIndex() != 2 || r.log.committed != 2 {
		t.Fatalf("log changed: last %d commit %d", r.log.lastIndex(), r.log.committed)
	}
	r.becomeCandidate()
	r.becomeLeader()
	if err := r.Step(Message{Type: MsgAppResp, From: "1", Term: r.term, Index: 99}); err == nil {
		t.Fatal("leader accepted an acknowledgement beyond its log")
	}
}

// Drain stops at the first failure and reports it; the entry that failed
// to apply is not acknowledged by Advance.
func TestDrainStopsOnError(t *testing.T) {
	r, _ := New(Config{ID: "a", Peers: []string{"a"}})
	boom := errors.New("boom")
	var applied []uint64
	h := Handler{Apply: func(e Entry) error {
		if e.Type == EntryNormal {
			return boom
		}
		applied = append(applied, e.Index)
		return nil
	}}
	for r.role != Leader {
		r.Tick()
	}
	if err := r.Drain(nil, h); err != nil {
		t.Fatal(err)
	}
	r.Propose([]byte("x"))
	if err := r.Drain(nil, h); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if r.log.applied != 1 || !reflect.DeepEqual(applied, []uint64{1}) {
		t.Fatalf("applied %d (%v), want only the no-op", r.log.applied, applied)
	}
}

// A follower forwards a read to the leader and gets the answer back.
func TestReadIndexForwarded(t *testing.T) {
	peers := []string{"1", "2", "3"}
	l := newTestRaft(t, "1", peers, 1)
	l.becomeCandidate()
	l.becomeLeader()
	drain(l)
	l.Step(Message{Type: MsgAppResp, From: "2", Term: 2, Index: 1})
	drain(l)

	f := newTestRaft(t, "2", peers, 2)
	if err := f.ReadIndex([]byte("q")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower without a leader: %v", err)
	}
	f.Step(Message{Type: MsgHeartbeat, From: "1", Term: 2})
	drain(f)
	if err := f.ReadIndex([]byte("q")); err != nil {
		t.Fatal(err)
	}
	fwd := only(t, drain(f), MsgReadIndex)
	if len(fwd) != 1 || fwd[0].To != "1" {
		t.Fatalf("forwarded %+v", fwd)
	}
	l.Step(fwd[0])
	hb := only(t, drain(l), MsgHeartbeat)
	l.Step(Message{Type: MsgHeartbeatResp, From: "3", Term: 2, Seq: hb[0].Seq})
	resp := only(t, drain(l), MsgReadIndexResp)
	if len(resp) != 1 || resp[0].To != "2" || resp[0].Index != 1 || string(resp[0].Context) != "q" {
		t.Fatalf("leader's answer %+v", resp)
	}
	f.Step(resp[0])
	if rs := f.Ready().ReadStates; len(rs) != 1 || rs[0].Index != 1 || string(rs[0].RequestCtx) != "q" {
		t.Fatalf("follower's read states %+v", rs)
	}
}
