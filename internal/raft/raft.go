// Package raft is the Raft consensus algorithm as a pure state machine.
//
// A *Raft does no I/O and reads no clock. The application feeds it inputs
// (Step for messages from peers, Tick for the passage of time, Propose and
// ReadIndex for client requests) and drains its outputs as Ready batches:
// entries and hard state to persist, messages to send, committed entries to
// apply. Time is a count of Ticks, so tests drive a whole cluster
// deterministically in one process, and the node runtime decides how long a
// tick lasts.
//
// The tracks build on it in stages: elector uses election only (roles,
// terms, pre-vote, check-quorum), consensus adds replication, persistence
// (Storage, raftdisk) and snapshots, store adds ReadIndex and lease reads
// for a linearizable key-value store. Membership is fixed at start.
//
// A *Raft is not safe for concurrent use; one goroutine owns it.
package raft

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// Config configures a node. Zero values choose the defaults noted.
type Config struct {
	// ID is this node's id; it must be one of Peers.
	ID string
	// Peers lists every voting member, this node included. If empty, the
	// peers recorded in the stored snapshot are used.
	Peers []string
	// ElectionTicks is the base election timeout E: a follower that hears
	// no leader for a random timeout in [E, 2E) ticks campaigns. Default 10.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval. Default 1; must be
	// less than ElectionTicks.
	HeartbeatTicks int
	// Storage holds the state to restart from; nil starts empty.
	Storage Storage
	// PreVote makes a node ask whether it could win before it increments
	// its term, so that a partitioned node rejoining does not force an
	// election by bringing a higher term.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// majority for an election timeout, and makes nodes that recently heard
	// from a leader ignore vote requests (a leader is not deposed by a node
	// that merely lost contact with it).
	CheckQuorum bool
	// LeaseRead answers ReadIndex from the leader's lease, without a round
	// of heartbeats, when the leader heard from a majority within the last
	// ElectionTicks-LeaseMarginTicks ticks. It requires CheckQuorum and
	// assumes that tick rates across nodes differ by less than the margin
	// over an election timeout (bounded clock drift); if a node's ticks run
	// that much faster than the leader's, a lease read can be stale.
	LeaseRead bool
	// LeaseMarginTicks is the drift allowance for LeaseRead. Default
	// max(1, ElectionTicks/5).
	LeaseMarginTicks int
	// Rand drives the randomized election timeout. Default: seeded from ID,
	// so runs are reproducible.
	Rand *rand.Rand
	// MaxInflight bounds unacknowledged appends per follower. Default 256.
	MaxInflight int
	// MaxBatch bounds entries per append message. Default 64.
	MaxBatch int
}

func (c *Config) validate() error {
	if c.ID == "" {
		return errors.New("raft: empty ID")
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.HeartbeatTicks < 0 || c.ElectionTicks <= c.HeartbeatTicks {
		return fmt.Errorf("raft: need 0 < HeartbeatTicks (%d) < ElectionTicks (%d)", c.HeartbeatTicks, c.ElectionTicks)
	}
	if c.LeaseRead && !c.CheckQuorum {
		return errors.New("raft: LeaseRead requires CheckQuorum")
	}
	if c.LeaseMarginTicks == 0 {
		c.LeaseMarginTicks = max(1, c.ElectionTicks/5)
	}
	if c.LeaseRead && c.LeaseMarginTicks >= c.ElectionTicks {
		return fmt.Errorf("raft: LeaseMarginTicks (%d) must be below ElectionTicks", c.LeaseMarginTicks)
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 256
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.Rand == nil {
		h := fnv.New64a()
		h.Write([]byte(c.ID))
		c.Rand = rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
	}
	return nil
}

// Raft is one node's protocol state.
type Raft struct {
	cfg   Config
	id    string
	peers []string // sorted, includes id

	term uint64
	vote string
	lead string
	role Role

	log raftLog

	prs   map[string]*progress // leader only
	votes map[string]bool      // candidates only

	now                       uint64 // ticks since start; local, never sent except as an echo
	electionElapsed           int
	heartbeatElapsed          int
	randomizedElectionTimeout int

	// Leader: pendingBcast defers sending new entries to Ready, so that all
	// proposals made between two Readys travel in one append per follower.
	pendingBcast bool
	// Leader: heartbeat rounds, for ReadIndex and the lease.
	hbSeq       uint64
	hbSent      []seqTick // recent rounds, ascending
	pendingRead []readRequest

	// Leader: a leadership transfer in progress (to whom, for how long),
	// and whether one was started this term (which ends lease reads).
	transferee      string
	transferElapsed int
	transferred     bool

	msgs       []Message
	readStates []ReadState

	prevSoft SoftState
	prevHard HardState

	// Repair of damaged storage (HardState.Repairing): the node waits
	// repairWaitTicks, then asks its peers for their terms until a quorum
	// of them has answered (repairKnown, repairTerm = the highest term
	// heard), then waits for a leader to declare it repaired.
	repairing     bool
	repairKnown   bool
	repairTerm    uint64
	repairAnswers map[string]uint64
	repairSeq     uint64 // round of the latest query (its tick)
	repairStarted uint64 // tick when repair became known-term, for Status
}

type seqTick struct{ seq, tick uint64 }

type readRequest struct {
	from  string // a follower that forwarded the read; "" for our own
	ctx   []byte
	index uint64 // commit index when the request arrived
	seq   uint64 // heartbeat round that confirms leadership; 0 = waiting for a commit in this term
}

// New makes a node from cfg, restoring whatever cfg.Storage holds. If the
// storage has a snapshot, the first Ready carries it so that the
// application can restore its state machine; committed entries after it
// are then applied again.
func New(cfg Config) (*Raft, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Raft{cfg: cfg, id: cfg.ID}
	var (
		hs   HardState
		snap *Snapshot
		ents []Entry
	)
	if cfg.Storage != nil {
		var err error
		if hs, snap, ents, err = cfg.Storage.Load(); err != nil {
			return nil, fmt.Errorf("raft: load storage: %w", err)
		}
	}
	peers := cfg.Peers
	if len(peers) == 0 && snap != nil {
		peers = snap.Meta.Peers
	}
	r.peers = slices.Clone(peers)
	slices.Sort(r.peers)
	r.peers = slices.Compact(r.peers)
	if !slices.Contains(r.peers, r.id) {
		return nil, fmt.Errorf("raft: ID %q not among peers %v", r.id, r.peers)
	}
	if snap != nil {
		r.log.snap = *cloneSnapshot(snap)
		r.log.snapPending = snap.Meta.Index > 0
	}
	next := r.log.firstIndex()
	for _, e := range ents {
		if e.Index < next {
			continue // covered by the snapshot
		}
		if e.Index != next {
			return nil, fmt.Errorf("raft: stored log has a gap before index %d", e.Index)
		}
		r.log.entries = append(r.log.entries, e)
		next++
	}
	r.log.committed = max(min(hs.Commit, r.log.lastIndex()), r.log.snap.Meta.Index)
	r.log.applying = r.log.snap.Meta.Index
	r.log.applied = r.log.snap.Meta.Index
	r.log.unstable = r.log.lastIndex() + 1
	r.term, r.vote = hs.Term, hs.Vote
	r.repairing = hs.Repairing
	if r.repairing && len(r.peers) == 1 {
		return nil, errors.New("raft: the storage is damaged and there is no peer to repair it from")
	}
	r.prevHard = HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed, Repairing: r.repairing}
	r.becomeFollower(r.term, "")
	r.prevSoft = r.softState()
	return r, nil
}

// ID returns the node's id.
func (r *Raft) ID() string { return r.id }

func (r *Raft) quorum() int { return len(r.peers)/2 + 1 }

func (r *Raft) softState() SoftState {
	return SoftState{Role: r.role, Term: r.term, Leader: r.lead}
}

func (r *Raft) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed, Repairing: r.repairing}
}

// send queues m from this node. A message stamped with no term gets the
// current one; vote grants carry the term they were asked for instead.
func (r *Raft) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	if r.repairing && (m.Type == MsgAppResp || m.Type == MsgHeartbeatResp) {
		m.Repair = true
	}
	r.msgs = append(r.msgs, m)
}

// ---- roles ----

func (r *Raft) reset(term uint64) {
	if term != r.term {
		r.term = term
		r.vote = ""
	}
	r.lead = ""
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.randomizedElectionTimeout = r.cfg.ElectionTicks + r.cfg.Rand.IntN(r.cfg.ElectionTicks)
	r.votes = nil
	r.prs = nil
	r.pendingBcast = false
	r.pendingRead = nil
	r.hbSent = nil
	r.transferee, r.transferElapsed, r.transferred = "", 0, false
}

func (r *Raft) becomeFollower(term uint64, lead string) {
	r.reset(term)
	r.role = Follower
	r.lead = lead
}

func (r *Raft) becomePreCandidate() {
	// The term stays: a pre-vote that fails must leave no trace.
	r.reset(r.term)
	r.role = PreCandidate
	r.votes = map[string]bool{}
}

func (r *Raft) becomeCandidate() {
	r.reset(r.term + 1)
	r.vote = r.id
	r.role = Candidate
	r.votes = map[string]bool{}
}

func (r *Raft) becomeLeader() {
	r.reset(r.term)
	r.role = Leader
	r.lead = r.id
	r.prs = make(map[string]*progress, len(r.peers))
	for _, p := range r.peers {
		r.prs[p] = &progress{next: r.log.lastIndex() + 1, recentActive: true}
	}
	r.prs[r.id].match = r.log.lastIndex()
	// A leader may only commit entries of its own term by counting
	// replicas (§5.4.2); the no-op gives it one right away, which also
	// tells it the commit index that ReadIndex needs.
	r.appendEntry(Entry{Type: EntryNoop})
}

// campaign starts an election (or, with pre, a pre-vote). force marks the
// vote requests of a leadership transfer, which voters grant even while
// they still trust the old leader, since it asked for this.
func (r *Raft) campaign(pre, force bool) {
	var typ MessageType
	var term uint64
	if pre {
		r.becomePreCandidate()
		typ, term = MsgPreVote, r.term+1
	} else {
		r.becomeCandidate()
		typ, term = MsgVote, r.term
	}
	if r.poll(r.id, true) {
		return
	}
	for _, p := range r.peers {
		if p != r.id {
			r.send(Message{Type: typ, To: p, Term: term, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm(), Force: force})
		}
	}
}

// poll records a vote and acts on a decided election; true if decided.
func (r *Raft) poll(from string, granted bool) bool {
	if _, ok := r.votes[from]; !ok {
		r.votes[from] = granted
	}
	yes, no := 0, 0
	for _, g := range r.votes {
		if g {
			yes++
		} else {
			no++
		}
	}
	switch {
	case yes >= r.quorum():
		if r.role == PreCandidate {
			r.campaign(false, false)
		} else {
			r.becomeLeader()
		}
		return true
	case no >= r.quorum():
		r.becomeFollower(r.term, "")
		return true
	}
	return false
}

// ---- time ----

// Tick advances the node's clock by one tick.
func (r *Raft) Tick() {
	r.now++
	r.electionElapsed++
	if r.repairing {
		r.tickRepair()
		return
	}
	if r.role != Leader {
		if r.electionElapsed >= r.randomizedElectionTimeout {
			r.electionElapsed = 0
			r.campaign(r.cfg.PreVote, false)
		}
		return
	}
	r.heartbeatElapsed++
	if r.transferee != "" {
		if r.transferElapsed++; r.transferElapsed >= r.cfg.ElectionTicks {
			// The transferee did not take over in time: lead on.
			r.transferee = ""
		}
	}
	if r.electionElapsed >= r.cfg.ElectionTicks {
		r.electionElapsed = 0
		if r.cfg.CheckQuorum {
			if !r.quorumActive() {
				r.becomeFollower(r.term, "")
				return
			}
			for id, pr := range r.prs {
				pr.recentActive = id == r.id
			}
		}
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTicks {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
}

func (r *Raft) quorumActive() bool {
	n := 0
	for id, pr := range r.prs {
		if id == r.id || pr.recentActive && !pr.repairing {
			n++
		}
	}
	return n >= r.quorum()
}

// ---- repair of damaged storage ----

// repairWaitTicks is how long a repairing node waits before asking its
// peers for their terms: longer than any election it may have voted in
// before the crash can still be running (a candidate gives up a term after
// at most 2E of its ticks), so that a quorum's terms cover every election
// its forgotten vote could have helped win.
func (r *Raft) repairWaitTicks() uint64 { return uint64(3 * r.cfg.ElectionTicks) }

func (r *Raft) tickRepair() {
	if r.repairKnown || r.now < r.repairWaitTicks() || r.now-r.repairSeq < uint64(r.cfg.ElectionTicks) && r.repairSeq != 0 {
		return
	}
	r.repairSeq = r.now
	for _, p := range r.peers {
		if p != r.id {
			r.send(Message{Type: MsgRepairQuery, To: p, Seq: r.repairSeq})
		}
	}
}

// handleRepairAnswer collects the terms of peers; a quorum of them (not
// counting this node) bounds every term in which it may have voted or
// acknowledged a leader.
func (r *Raft) handleRepairAnswer(m Message) {
	if !r.repairing || r.repairKnown || m.Seq == 0 || m.Seq < r.repairWaitTicks() || m.Seq > r.repairSeq {
		return
	}
	if r.repairAnswers == nil {
		r.repairAnswers = map[string]uint64{}
	}
	r.repairAnswers[m.From] = max(r.repairAnswers[m.From], m.Term)
	// Any quorum that elected a leader holds, besides us, at least
	// quorum-1 peers; this many answers from others always include one.
	if len(r.repairAnswers) < len(r.peers)-r.quorum()+1 {
		return
	}
	t := r.term
	for _, at := range r.repairAnswers {
		t = max(t, at)
	}
	r.repairKnown, r.repairTerm, r.repairAnswers = true, t, nil
	r.repairStarted = r.now
	if t > r.term {
		r.becomeFollower(t, "")
	}
}

// finishRepair ends the repair on the word of the leader of our term:
// our log holds everything it had when it learned of the repair.
func (r *Raft) finishRepair(leader string) {
	r.repairing, r.repairKnown = false, false
	if r.vote == "" {
		// We may have voted in this term before the damage; this leader
		// won it, so recording a vote for it changes no outcome and
		// keeps us from granting a second vote in the term.
		r.vote = leader
	}
	r.electionElapsed = 0
}

// ---- inputs ----

// Step handles a message from a peer. Messages from unknown senders or
// with an unknown type are errors; stale ones are dropped silently.
func (r *Raft) Step(m Message) error {
	if !slices.Contains(r.peers, m.From) || m.From == r.id {
		return fmt.Errorf("raft: message from unknown peer %q", m.From)
	}
	switch m.Type {
	case MsgRepairQuery:
		// Answered whatever the terms. A node repairing itself answers
		// only once it has learned a term from its own quorum: before
		// that, its term may be one it forgot having passed.
		if !r.repairing || r.repairKnown {
			r.send(Message{Type: MsgRepairQueryResp, To: m.From, Seq: m.Seq})
		}
		return nil
	case MsgRepairQueryResp:
		r.handleRepairAnswer(m)
		return nil
	}
	switch {
	case m.Term > r.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			if !m.Force && r.inLease() {
				// We heard from a live leader within an election timeout:
				// this candidate is partitioned from it, not a replacement.
				return nil
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote never changes our term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// Granted pre-votes carry the term we will campaign in.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			r.becomeFollower(m.Term, m.From)
		default:
			r.becomeFollower(m.Term, "")
		}
	case m.Term < r.term:
		switch m.Type {
		case MsgApp, MsgHeartbeat:
			if r.cfg.CheckQuorum || r.cfg.PreVote {
				// A stale leader (e.g. after a partition heals) learns the
				// new term from this and steps down; without it, with
				// pre-vote, we would ignore it and it would never learn.
				r.send(Message{Type: MsgAppResp, To: m.From})
			}
		case MsgPreVote:
			r.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		}
		return nil
	}

	if r.repairing && !r.repairKnown {
		// Until we know a term a quorum has reached, we might accept
		// a deposed leader (we forgot the newer term we had promised).
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow:
			return nil
		}
	}
	switch m.Type {
	case MsgVote, MsgPreVote:
		r.handleVote(m)
		return nil
	case MsgAppResp:
		if r.role == Leader && !m.Reject && m.Index > r.log.lastIndex() {
			return fmt.Errorf("raft: %s acknowledged index %d beyond our last %d", m.From, m.Index, r.log.lastIndex())
		}
	case MsgVoteResp, MsgPreVoteResp, MsgApp, MsgHeartbeat, MsgHeartbeatResp, MsgSnap, MsgReadIndex, MsgReadIndexResp, MsgTimeoutNow:
	default:
		return fmt.Errorf("raft: unknown message type %q", m.Type)
	}
	switch r.role {
	case Leader:
		r.stepLeader(m)
		return nil
	case Candidate, PreCandidate:
		return r.stepCandidate(m)
	default:
		return r.stepFollower(m)
	}
}

func (r *Raft) inLease() bool {
	if !r.cfg.CheckQuorum || r.electionElapsed >= r.cfg.ElectionTicks {
		return false
	}
	// With LeaseRead, a node that just (re)started also waits out an
	// election timeout: it may have acknowledged a leader's lease before
	// it crashed, and it no longer remembers.
	return r.lead != "" || r.cfg.LeaseRead && r.role == Follower
}

func (r *Raft) handleVote(m Message) {
	canVote := !r.repairing && (r.vote == m.From ||
		(r.vote == "" && r.lead == "") ||
		(m.Type == MsgPreVote && m.Term > r.term))
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	if canVote && r.log.isUpToDate(m.Index, m.LogTerm) {
		// The grant carries the term asked for, so that a pre-candidate
		// can tell it from answers to an older campaign.
		r.send(Message{Type: resp, To: m.From, Term: m.Term})
		if m.Type == MsgVote {
			r.electionElapsed = 0
			r.vote = m.From
		}
		return
	}
	r.send(Message{Type: resp, To: m.From, Reject: true})
}

func (r *Raft) stepFollower(m Message) error {
	switch m.Type {
	case MsgApp:
		r.electionElapsed, r.lead = 0, m.From
		return r.handleAppend(m)
	case MsgHeartbeat:
		r.electionElapsed, r.lead = 0, m.From
		if m.Repair && r.repairing && r.repairKnown && m.Term >= r.repairTerm {
			r.finishRepair(m.From)
		}
		r.handleHeartbeat(m)
	case MsgSnap:
		r.electionElapsed, r.lead = 0, m.From
		r.handleSnapshot(m)
	case MsgReadIndexResp:
		r.readStates = append(r.readStates, ReadState{Index: m.Index, RequestCtx: m.Context})
	case MsgTimeoutNow:
		// Our leader hands over: campaign at once, without pre-vote (the
		// leader has vouched that we are up to date).
		if !r.repairing {
			r.campaign(false, true)
		}
	}
	return nil
}

func (r *Raft) stepCandidate(m Message) error {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// Someone won this term.
		r.becomeFollower(m.Term, m.From)
		return r.stepFollower(m)
	case MsgPreVoteResp:
		if r.role == PreCandidate {
			r.poll(m.From, !m.Reject)
		}
	case MsgVoteResp:
		if r.role == Candidate {
			r.poll(m.From, !m.Reject)
		}
	}
	return nil
}

// ---- follower side of replication ----

func (r *Raft) handleAppend(m Message) error {
	for i, e := range m.Entries {
		if e.Index != m.Index+1+uint64(i) || e.Term > m.Term {
			return fmt.Errorf("raft: malformed append from %s: entry %d is (%d, %d) after index %d", m.From, i, e.Index, e.Term, m.Index)
		}
	}
	if m.Index < r.log.committed {
		// Everything up to our commit index matches any leader's log.
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return nil
	}
	last, ok, err := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries)
	if err != nil {
		return err
	}
	if ok {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: last})
		return nil
	}
	// Point the leader at the last index whose term is no newer than the
	// one it asked about: entries after it cannot match.
	hint := r.log.findConflictByTerm(min(m.Index, r.log.lastIndex()), m.LogTerm)
	hintTerm, _ := r.log.term(hint)
	r.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, RejectHint: hint, LogTerm: hintTerm})
	return nil
}

func (r *Raft) handleHeartbeat(m Message) {
	// The leader only sends a commit index our log is known to match.
	r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	r.send(Message{Type: MsgHeartbeatResp, To: m.From, Seq: m.Seq})
}

func (r *Raft) handleSnapshot(m Message) {
	if m.Snapshot == nil {
		return
	}
	s := m.Snapshot.Meta
	switch {
	case s.Index <= r.log.committed:
		// Old news; say how far we are.
	case r.log.matchTerm(s.Index, s.Term):
		// We already have the entries it covers; keep them and the rest.
		r.log.commitTo(s.Index)
	default:
		r.log.restore(*cloneSnapshot(m.Snapshot))
	}
	r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
}

// ---- leader ----

func (r *Raft) appendEntry(es ...Entry) {
	li := r.log.lastIndex()
	for i := range es {
		es[i].Term = r.term
		es[i].Index = li + 1 + uint64(i)
	}
	r.log.append(es...)
	r.prs[r.id].maybeUpdate(r.log.lastIndex())
	r.maybeCommit()
	r.pendingBcast = true
}

// maybeCommit advances the commit index to the highest index stored on a
// quorum, but only if that entry is from the current term (figure 8: an
// older entry on a majority can still be overwritten).
func (r *Raft) maybeCommit() bool {
	ms := make([]uint64, 0, len(r.prs))
	for _, pr := range r.prs {
		if pr.repairing {
			ms = append(ms, 0)
			continue
		}
		ms = append(ms, pr.match)
	}
	slices.Sort(ms)
	q := ms[len(ms)-r.quorum()]
	if q <= r.log.committed {
		return false
	}
	if t, _ := r.log.term(q); t != r.term {
		return false
	}
	r.log.commitTo(q)
	r.releaseReadsAwaitingCommit()
	return true
}

func (r *Raft) bcastAppend() {
	for _, p := range r.peers {
		if p != r.id {
			r.sendAppend(p, true)
		}
	}
}

// sendAppend sends the next batch to a follower, or a snapshot when the
// entries it needs are compacted. With sendIfEmpty an empty append is sent
// too (to carry a commit index or probe a match). It reports whether
// anything was sent.
func (r *Raft) sendAppend(to string, sendIfEmpty bool) bool {
	pr := r.prs[to]
	if pr.isPaused(r.cfg.MaxInflight) {
		return false
	}
	prev := pr.next - 1
	prevTerm, ok := r.log.term(prev)
	if !ok {
		// The follower is behind our snapshot.
		snap := r.log.snap
		pr.becomeSnapshot(snap.Meta.Index, r.now)
		r.send(Message{Type: MsgSnap, To: to, Snapshot: &snap})
		return true
	}
	hi := min(r.log.lastIndex()+1, pr.next+uint64(r.cfg.MaxBatch))
	ents := r.log.slice(pr.next, hi)
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	r.send(Message{Type: MsgApp, To: to, Index: prev, LogTerm: prevTerm, Entries: ents, Commit: r.log.committed})
	switch pr.state {
	case replicate:
		if n := len(ents); n > 0 {
			last := ents[n-1].Index
			pr.next = last + 1
			pr.inflight = append(pr.inflight, inflight{last, r.now})
		}
	case probe:
		pr.probeSent = true
	}
	return true
}

func (r *Raft) bcastHeartbeat() {
	r.hbSeq++
	r.hbSent = append(r.hbSent, seqTick{r.hbSeq, r.now})
	// Only rounds younger than an election timeout can still matter.
	for len(r.hbSent) > 1 && r.hbSent[0].tick+uint64(r.cfg.ElectionTicks) < r.now {
		r.hbSent = r.hbSent[1:]
	}
	r.prs[r.id].ackedSeq = r.hbSeq
	for _, p := range r.peers {
		if p == r.id {
			continue
		}
		pr := r.prs[p]
		repaired := pr.repairing && pr.match >= pr.repairTarget
		r.send(Message{Type: MsgHeartbeat, To: p, Commit: min(pr.match, r.log.committed), Seq: r.hbSeq, Repair: repaired})
	}
	r.maybeReleaseReads()
}

func (r *Raft) stepLeader(m Message) {
	pr := r.prs[m.From]
	if pr == nil {
		return
	}
	pr.recentActive = true
	if m.Type == MsgAppResp || m.Type == MsgHeartbeatResp {
		switch {
		case m.Repair && !pr.repairing:
			// Whatever it acknowledged before may be gone: find its log
			// again, and hold it to everything we have now.
			pr.repairing, pr.repairTarget = true, r.log.lastIndex()
			pr.match = 0
			pr.state, pr.probeSent, pr.inflight, pr.snapIndex = probe, false, nil, 0
		case !m.Repair && pr.repairing:
			// Repaired: what it acknowledged so far counts from now on.
			pr.repairing = false
			if r.maybeCommit() {
				r.bcastAppend()
			}
		}
	}
	switch m.Type {
	case MsgReadIndex:
		r.startRead(readRequest{from: m.From, ctx: m.Context})
	case MsgAppResp:
		r.handleAppendResp(m, pr)
	case MsgHeartbeatResp:
		if m.Seq > pr.ackedSeq {
			pr.ackedSeq = m.Seq
			r.maybeReleaseReads()
		}
		switch pr.state {
		case probe:
			// One probe per heartbeat until the follower answers.
			pr.probeSent = false
			r.sendAppend(m.From, true)
		case replicate:
			if len(pr.inflight) > 0 && r.now-pr.inflight[0].tick >= r.retransmitTicks() {
				// The follower is reachable but an append went
				// unanswered: assume it was lost and probe again.
				pr.becomeProbe()
				r.sendAppend(m.From, true)
			} else {
				r.sendAppend(m.From, false)
			}
		case snapshotting:
			if r.now-pr.snapSentTick >= uint64(r.cfg.ElectionTicks) {
				// Likewise for a snapshot.
				pr.becomeProbe()
				r.sendAppend(m.From, true)
			}
		}
	}
}

// retransmitTicks is how long an append may go unanswered, while
// heartbeats are answered, before the leader assumes it was lost.
func (r *Raft) retransmitTicks() uint64 {
	return uint64(max(2*r.cfg.HeartbeatTicks, r.cfg.ElectionTicks/2))
}

func (r *Raft) handleAppendResp(m Message, pr *progress) {
	if m.Reject {
		hint := m.RejectHint
		if m.LogTerm > 0 {
			hint = r.log.findConflictByTerm(m.RejectHint, m.LogTerm)
		}
		if pr.maybeDecrTo(m.Index, hint) {
			if pr.state == replicate {
				pr.becomeProbe()
			}
			r.sendAppend(m.From, true)
		}
		return
	}
	if !pr.maybeUpdate(m.Index) {
		return
	}
	switch {
	case pr.state == probe:
		pr.becomeReplicate()
	case pr.state == snapshotting && pr.match >= pr.snapIndex:
		pr.becomeProbe()
		pr.becomeReplicate()
	}
	if r.maybeCommit() {
		// Followers learn the new commit index now rather than at the next heartbeat.
		r.bcastAppend()
	}
	for r.sendAppend(m.From, false) {
	}
	if m.From == r.transferee && pr.match == r.log.lastIndex() {
		r.send(Message{Type: MsgTimeoutNow, To: m.From})
	}
}

// TransferLeadership asks the leader to hand leadership to peer to: it
// brings to's log up to date, then tells it to campaign at once. Proposals
// are refused (ErrTransferring) meanwhile; if to has not taken over within
// an election timeout the leader carries on. Transferring to itself does
// nothing.
func (r *Raft) TransferLeadership(to string) error {
	if r.role != Leader {
		return r.notLeader()
	}
	if to == r.id {
		return nil
	}
	pr := r.prs[to]
	if pr == nil {
		return fmt.Errorf("raft: transfer to unknown peer %q", to)
	}
	r.transferee, r.transferElapsed, r.transferred = to, 0, true
	if pr.match == r.log.lastIndex() {
		r.send(Message{Type: MsgTimeoutNow, To: to})
	} else {
		r.sendAppend(to, true)
	}
	return nil
}

// ---- client requests ----

func (r *Raft) notLeader() error { return &NotLeaderError{Leader: r.lead, Term: r.term} }

// Propose appends data to the log if this node leads. It returns the index
// and term the entry got; the entry is committed if and when the
// application sees an entry with that index and term in
// Ready.CommittedEntries (a different term there means it was lost).
func (r *Raft) Propose(data []byte) (index, term uint64, err error) {
	if r.role != Leader {
		return 0, 0, r.notLeader()
	}
	if r.transferee != "" {
		return 0, 0, ErrTransferring
	}
	r.appendEntry(Entry{Data: data})
	return r.log.lastIndex(), r.term, nil
}

// ReadIndex starts a linearizable read. When it is safe, a ReadState with
// requestCtx appears in a Ready: the read may be served once the state
// machine has applied its Index. The leader confirms that it still leads
// with a round of heartbeats (or, with LeaseRead, from its lease). A
// follower forwards the request to the leader it knows, and fails with a
// NotLeaderError if it knows none. Requests are not retried: one pending
// when leadership changes, or lost on the way, is never answered, so the
// caller gives up after a timeout and asks again.
func (r *Raft) ReadIndex(requestCtx []byte) error {
	switch {
	case r.role == Leader:
		r.startRead(readRequest{ctx: requestCtx})
		return nil
	case r.role == Follower && r.lead != "":
		r.send(Message{Type: MsgReadIndex, To: r.lead, Context: requestCtx})
		return nil
	}
	return r.notLeader()
}

func (r *Raft) startRead(req readRequest) {
	req.index = r.log.committed
	if !r.committedInTerm() {
		// The commit index might still lag entries committed by earlier
		// leaders; wait for our no-op.
		r.pendingRead = append(r.pendingRead, req)
		return
	}
	if len(r.peers) == 1 || r.leaseValid() {
		r.answerRead(req)
		return
	}
	req.seq = r.hbSeq + 1
	r.pendingRead = append(r.pendingRead, req)
	r.heartbeatElapsed = 0
	r.bcastHeartbeat()
}

func (r *Raft) answerRead(req readRequest) {
	if req.from == "" {
		r.readStates = append(r.readStates, ReadState{Index: req.index, RequestCtx: req.ctx})
		return
	}
	r.send(Message{Type: MsgReadIndexResp, To: req.from, Index: req.index, Context: req.ctx})
}

func (r *Raft) committedInTerm() bool {
	t, _ := r.log.term(r.log.committed)
	return t == r.term
}

func (r *Raft) releaseReadsAwaitingCommit() {
	if !r.committedInTerm() {
		return
	}
	started := false
	for i := range r.pendingRead {
		if r.pendingRead[i].seq == 0 {
			r.pendingRead[i].index = r.log.committed
			r.pendingRead[i].seq = r.hbSeq + 1
			started = true
		}
	}
	if started {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
}

// quorumSeq is the highest heartbeat round acknowledged by a quorum.
func (r *Raft) quorumSeq() uint64 {
	seqs := make([]uint64, 0, len(r.prs))
	for _, pr := range r.prs {
		if pr.repairing {
			seqs = append(seqs, 0)
			continue
		}
		seqs = append(seqs, pr.ackedSeq)
	}
	slices.Sort(seqs)
	return seqs[len(seqs)-r.quorum()]
}

func (r *Raft) maybeReleaseReads() {
	if len(r.pendingRead) == 0 {
		return
	}
	q := r.quorumSeq()
	i := 0
	for i < len(r.pendingRead) && r.pendingRead[i].seq != 0 && r.pendingRead[i].seq <= q {
		r.answerRead(r.pendingRead[i])
		i++
	}
	r.pendingRead = r.pendingRead[i:]
}

// leaseValid reports whether a quorum acknowledged a heartbeat sent less
// than ElectionTicks-LeaseMarginTicks ticks ago. Those followers reset their
// election timers on receiving it, after it was sent, and (CheckQuorum)
// ignore candidates for ElectionTicks of their own ticks; so no other
// leader can exist until the lease ends, given bounded drift.
func (r *Raft) leaseValid() bool {
	// After starting a transfer the leader cannot know whether its peers
	// still honour its lease (they grant forced votes), so for the rest of
	// the term it confirms reads with heartbeats.
	if !r.cfg.LeaseRead || r.role != Leader || r.transferred {
		return false
	}
	q := r.quorumSeq()
	for _, st := range r.hbSent {
		if st.seq == q {
			return r.now < st.tick+uint64(r.cfg.ElectionTicks-r.cfg.LeaseMarginTicks)
		}
	}
	return false
}

// Compact records that the application's state as of index (which it has
// applied) is captured in data, and drops the log up to index. The snapshot
// appears in the next Ready as Compacted, to be persisted.
func (r *Raft) Compact(index uint64, data []byte) error {
	return r.log.compact(index, data, r.peers)
}

// ---- output ----

// HasReady reports whether Ready would return anything.
func (r *Raft) HasReady() bool {
	l := &r.log
	return r.pendingBcast || len(r.msgs) > 0 || len(r.readStates) > 0 ||
		r.softState() != r.prevSoft || r.hardState() != r.prevHard ||
		l.unstable <= l.lastIndex() || l.snapPending || l.compactedPending ||
		l.committed > l.applying
}

// Ready returns the pending work and marks it handed out: the caller must
// carry it out (see Ready) before calling Ready again, then call Advance.
func (r *Raft) Ready() Ready {
	if r.pendingBcast {
		r.pendingBcast = false
		if r.role == Leader {
			r.bcastAppend()
		}
	}
	var rd Ready
	if ss := r.softState(); ss != r.prevSoft {
		rd.SoftState = &ss
		r.prevSoft = ss
	}
	if hs := r.hardState(); hs != r.prevHard {
		rd.HardState = hs
		r.prevHard = hs
	}
	l := &r.log
	if l.snapPending {
		rd.Snapshot = cloneSnapshot(&l.snap)
		l.snapPending = false
		l.compactedPending = false
	}
	if l.compactedPending {
		rd.Compacted = cloneSnapshot(&l.snap)
		l.compactedPending = false
	}
	if l.unstable <= l.lastIndex() {
		rd.Entries = l.slice(max(l.unstable, l.firstIndex()), l.lastIndex()+1)
		l.unstable = l.lastIndex() + 1
	}
	if l.committed > l.applying {
		rd.CommittedEntries = l.slice(l.applying+1, l.committed+1)
		l.applying = l.committed
	}
	rd.Messages, r.msgs = r.msgs, nil
	rd.ReadStates, r.readStates = r.readStates, nil
	return rd
}

// Advance tells the node that rd has been carried out: its committed
// entries are applied (which allows Compact up to them).
func (r *Raft) Advance(rd Ready) {
	if rd.Snapshot != nil {
		r.log.applied = max(r.log.applied, rd.Snapshot.Meta.Index)
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applied = max(r.log.applied, rd.CommittedEntries[n-1].Index)
	}
}

// ---- introspection ----

// Status is a node's state for display and for tests.
type Status struct {
	ID        string `json:"id"`
	SoftState        // role, term, leader
	Vote      string `json:"vote,omitempty"`
	Commit    uint64 `json:"commit"`
	Applied   uint64 `json:"applied"`
	// Repairing: the node's storage was damaged and its peers have not
	// yet repaired it (it does not vote or campaign).
	Repairing  bool   `json:"repairing,omitempty"`
	FirstIndex uint64 `json:"first_index"`
	LastIndex  uint64 `json:"last_index"`
	// Progress is the leader's view of each peer (leaders only).
	Progress map[string]PeerProgress `json:"progress,omitempty"`
}

// PeerProgress is a leader's replication state for one peer.
type PeerProgress struct {
	Match uint64 `json:"match"`
	Next  uint64 `json:"next"`
	State string `json:"state"`
}

// Status returns a snapshot of the node's state.
func (r *Raft) Status() Status {
	s := Status{
		ID: r.id, SoftState: r.softState(), Vote: r.vote,
		Commit: r.log.committed, Applied: r.log.applied, Repairing: r.repairing,
		FirstIndex: r.log.firstIndex(), LastIndex: r.log.lastIndex(),
	}
	if r.role == Leader {
		s.Progress = make(map[string]PeerProgress, len(r.prs))
		for id, pr := range r.prs {
			s.Progress[id] = PeerProgress{Match: pr.match, Next: pr.next, State: pr.state.String()}
		}
	}
	return s
}

// Term returns the term of the entry at index, if the log still has it
// (the snapshot's last index included).
func (r *Raft) Term(index uint64) (uint64, bool) { return r.log.term(index) }

// Entries returns a copy of the entries in [lo, hi), clamped to the log.
func (r *Raft) Entries(lo, hi uint64) []Entry {
	lo = max(lo, r.log.firstIndex())
	hi = min(hi, r.log.lastIndex()+1)
	return r.log.slice(lo, hi)
}

// LeaseValid reports whether this leader's lease is current (LeaseRead).
func (r *Raft) LeaseValid() bool { return r.leaseValid() && r.committedInTerm() }
