package rafttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
)

// Options configures a Cluster.
type Options struct {
	Nodes int    // default 3
	Seed  uint64 // seeds the network and every node's election timer

	ElectionTicks  int // default 10
	HeartbeatTicks int // default 1
	PreVote        bool
	CheckQuorum    bool
	LeaseRead      bool
	MaxInflight    int
	MaxBatch       int

	// SnapshotEvery makes each node Compact after applying this many
	// entries since its last snapshot (0: never).
	SnapshotEvery uint64
	// CountStaleReads counts stale reads in Cluster.StaleReads instead of
	// failing the test: for demonstrating what breaks lease reads.
	CountStaleReads bool
	// NewStorage opens a node's storage; it is called whenever a node
	// starts, restarts included, so that a disk storage can be reopened.
	// Default: one raft.MemoryStorage per node, kept across crashes.
	NewStorage func(id string) raft.Storage
}

// Node is one member of a Cluster.
type Node struct {
	ID      string
	Raft    *raft.Raft // nil while crashed
	Storage raft.Storage

	sm        []smEntry // the state machine: every applied entry, in order
	snapIndex uint64
	lastTerm  uint64
	repairing bool // as of the end of the last process

	// Clock rate: the node ticks rateNum times per rateDen cluster ticks.
	rateNum, rateDen, tickAcc uint64

	// ReadStates collects every ReadState the node produced.
	ReadStates []raft.ReadState
}

type smEntry struct {
	Index uint64 `json:"i"`
	Term  uint64 `json:"t"`
	Data  []byte `json:"d,omitempty"`
}

// Applied is the index of the last entry the node applied.
func (n *Node) Applied() uint64 { return uint64(len(n.sm)) }

// Up reports whether the node is running.
func (n *Node) Up() bool { return n.Raft != nil }

// Cluster is an in-process Raft cluster on a simulated Network. After every
// step it checks, and fails the test on a violation of:
//
//   - election safety: at most one leader per term;
//   - state machine safety: no two nodes apply different entries at an index,
//     and each node applies indexes in order without gaps;
//   - leader completeness: a new leader's log holds every entry applied anywhere;
//   - log matching (every CheckEvery ticks and at the end): if two logs hold
//     an entry with the same index and term, they are identical up to it;
//   - monotonicity: a node's term never decreases, even across restarts
//     (except when it restarts with damaged storage, marked Repairing: it
//     may have forgotten its term);
//   - a node repairing damaged storage neither campaigns nor grants votes.
type Cluster struct {
	t    testing.TB
	opts Options
	rand *rand.Rand

	Net   *Network
	Nodes []*Node
	byID  map[string]*Node
	now   uint64

	leaders map[uint64]string // term -> leader
	// Reads: the highest commit index any node had announced when each
	// ReadIndex call was made; the answer must be at least that.
	maxCommitSeen uint64
	reads         map[string]uint64
	// ReadsServed counts ReadStates checked; StaleReads those that were
	// stale (with Options.CountStaleReads).
	ReadsServed, StaleReads int
	committed               map[uint64]smEntry // index -> entry applied somewhere
	maxCommit               uint64
	// CheckEvery is the log-matching check interval in ticks.
	CheckEvery uint64
}

// New starts a cluster of opts.Nodes nodes named n1, n2, ...; its final
// log-matching check runs at test cleanup.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.ElectionTicks == 0 {
		opts.ElectionTicks = 10
	}
	if opts.HeartbeatTicks == 0 {
		opts.HeartbeatTicks = 1
	}
	c := &Cluster{
		t: t, opts: opts,
		rand:       rand.New(rand.NewPCG(opts.Seed, 0xc1)),
		byID:       map[string]*Node{},
		leaders:    map[uint64]string{},
		committed:  map[uint64]smEntry{},
		reads:      map[string]uint64{},
		CheckEvery: 20,
	}
	c.Net = newNetwork(rand.New(rand.NewPCG(opts.Seed, 0x4e7)))
	for i := 1; i <= opts.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		n := &Node{ID: id, Storage: raft.NewMemoryStorage(), rateNum: 1, rateDen: 1}
		c.Nodes = append(c.Nodes, n)
		c.byID[id] = n
		c.Net.Connect(id)
	}
	for _, n := range c.Nodes {
		c.start(n)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			c.CheckLogMatching()
		}
	})
	return c
}

// IDs returns the node ids.
func (c *Cluster) IDs() []string {
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// Node returns the node with the given id.
func (c *Cluster) Node(id string) *Node { return c.byID[id] }

// Now is the number of ticks run so far.
func (c *Cluster) Now() uint64 { return c.now }

// Rand is the cluster's seeded random source, for tests' own choices.
func (c *Cluster) Rand() *rand.Rand { return c.rand }

func (c *Cluster) config(n *Node) raft.Config {
	o := c.opts
	return raft.Config{
		ID: n.ID, Peers: c.IDs(), Storage: n.Storage,
		ElectionTicks: o.ElectionTicks, HeartbeatTicks: o.HeartbeatTicks,
		PreVote: o.PreVote, CheckQuorum: o.CheckQuorum, LeaseRead: o.LeaseRead,
		MaxInflight: o.MaxInflight, MaxBatch: o.MaxBatch,
		Rand: rand.New(rand.NewPCG(c.rand.Uint64(), 0)),
	}
}

func (c *Cluster) start(n *Node) {
	if c.opts.NewStorage != nil {
		n.Storage = c.opts.NewStorage(n.ID)
	}
	r, err := raft.New(c.config(n))
	if err != nil {
		c.t.Fatalf("start %s: %v", n.ID, err)
	}
	n.Raft = r
	n.sm, n.snapIndex = nil, 0
	if n.repairing = r.Status().Repairing; n.repairing {
		n.lastTerm = 0
	}
	c.process(n)
}

// SetClockRate makes node id's clock run at num/den of the cluster's rate
// (clock drift): it gets num ticks per den cluster ticks.
func (c *Cluster) SetClockRate(id string, num, den uint64) {
	n := c.byID[id]
	n.rateNum, n.rateDen, n.tickAcc = num, den, 0
}

// Crash stops a node; its storage survives. Messages to it are lost.
func (c *Cluster) Crash(id string) { c.byID[id].Raft = nil }

// Restart starts a crashed node again from its storage.
func (c *Cluster) Restart(id string) {
	n := c.byID[id]
	if n.Raft == nil {
		c.start(n)
	}
}

// Tick advances every running node by one tick and delivers the messages
// due by then (including those their handling sends with no delay).
func (c *Cluster) Tick() {
	c.now++
	c.Net.now = c.now
	for _, n := range c.Nodes {
		if n.Raft == nil {
			continue
		}
		for n.tickAcc += n.rateNum; n.tickAcc >= n.rateDen; n.tickAcc -= n.rateDen {
			n.Raft.Tick()
			c.process(n)
		}
	}
	c.Deliver()
	if c.CheckEvery > 0 && c.now%c.CheckEvery == 0 {
		c.CheckLogMatching()
	}
}

// Ticks runs k ticks.
func (c *Cluster) Ticks(k int) {
	for range k {
		c.Tick()
	}
}

// Deliver hands every message due now to its destination.
func (c *Cluster) Deliver() {
	for {
		m, ok := c.Net.next()
		if !ok {
			return
		}
		n := c.byID[m.To]
		if n == nil || n.Raft == nil {
			c.Net.Dropped++
			continue
		}
		c.Net.Delivered++
		if err := n.Raft.Step(m); err != nil {
			c.t.Fatalf("%s step %+v: %v", n.ID, m, err)
		}
		c.process(n)
	}
}

// process carries out a node's Readys the way a real node must: persist,
// send, apply, advance.
func (c *Cluster) process(n *Node) {
	c.t.Helper()
	for n.Raft.HasReady() {
		rd := n.Raft.Ready()
		if rd.SoftState != nil {
			c.observe(n, *rd.SoftState)
		}
		c.maxCommitSeen = max(c.maxCommitSeen, rd.HardState.Commit)
		for _, rs := range rd.ReadStates {
			c.checkRead(n, rs)
		}
		if u := rd.Update(); !u.IsEmpty() {
			if err := n.Storage.Save(u); err != nil {
				c.t.Fatalf("%s save: %v", n.ID, err)
			}
		}
		still := n.Raft.Status().Repairing
		for _, m := range rd.Messages {
			if m.From != n.ID || m.To == n.ID {
				c.t.Fatalf("%s sent a misaddressed message %+v", n.ID, m)
			}
			if n.repairing && still {
				switch {
				case m.Type == raft.MsgVote || m.Type == raft.MsgPreVote:
					c.t.Fatalf("%s campaigns while repairing: %+v", n.ID, m)
				case (m.Type == raft.MsgVoteResp || m.Type == raft.MsgPreVoteResp) && !m.Reject:
					c.t.Fatalf("%s grants a vote while repairing: %+v", n.ID, m)
				}
			}
			c.Net.send(m)
		}
		if rd.Snapshot != nil {
			c.restore(n, rd.Snapshot)
		}
		for _, e := range rd.CommittedEntries {
			c.apply(n, e)
		}
		n.ReadStates = append(n.ReadStates, rd.ReadStates...)
		n.Raft.Advance(rd)
		n.repairing = still
		if c.opts.SnapshotEvery > 0 && n.Applied()-n.snapIndex >= c.opts.SnapshotEvery {
			data, err := json.Marshal(n.sm)
			if err != nil {
				c.t.Fatal(err)
			}
			if err := n.Raft.Compact(n.Applied(), data); err != nil {
				c.t.Fatalf("%s compact %d: %v", n.ID, n.Applied(), err)
			}
			n.snapIndex = n.Applied()
		}
	}
}

func (c *Cluster) observe(n *Node, ss raft.SoftState) {
	if ss.Term < n.lastTerm {
		c.t.Fatalf("%s: term went back from %d to %d", n.ID, n.lastTerm, ss.Term)
	}
	n.lastTerm = ss.Term
	if ss.Role != raft.Leader {
		return
	}
	if l, ok := c.leaders[ss.Term]; ok && l != n.ID {
		c.t.Fatalf("election safety: %s and %s both lead term %d", l, n.ID, ss.Term)
	}
	c.leaders[ss.Term] = n.ID
	st := n.Raft.Status()
	if c.maxCommit > st.LastIndex {
		c.t.Fatalf("leader completeness: %s leads term %d with last index %d, but %d was committed",
			n.ID, ss.Term, st.LastIndex, c.maxCommit)
	}
	for i := st.FirstIndex; i <= c.maxCommit; i++ {
		if t, _ := n.Raft.Term(i); t != c.committed[i].Term {
			c.t.Fatalf("leader completeness: %s leads term %d with term %d at %d, committed term %d",
				n.ID, ss.Term, t, i, c.committed[i].Term)
		}
	}
}

func (c *Cluster) apply(n *Node, e raft.Entry) {
	if e.Index != n.Applied()+1 {
		c.t.Fatalf("%s applied index %d after %d", n.ID, e.Index, n.Applied())
	}
	se := smEntry{Index: e.Index, Term: e.Term, Data: e.Data}
	if prev, ok := c.committed[e.Index]; ok {
		if prev.Term != se.Term || !bytes.Equal(prev.Data, se.Data) {
			c.t.Fatalf("state machine safety: %s applied %d:%d %q, another node %d:%d %q",
				n.ID, e.Index, e.Term, e.Data, prev.Index, prev.Term, prev.Data)
		}
	} else {
		c.committed[e.Index] = se
		c.maxCommit = max(c.maxCommit, e.Index)
	}
	n.sm = append(n.sm, se)
}

func (c *Cluster) restore(n *Node, s *raft.Snapshot) {
	var sm []smEntry
	if err := json.Unmarshal(s.Data, &sm); err != nil {
		c.t.Fatalf("%s: bad snapshot: %v", n.ID, err)
	}
	if uint64(len(sm)) != s.Meta.Index {
		c.t.Fatalf("%s: snapshot at %d holds %d entries", n.ID, s.Meta.Index, len(sm))
	}
	// The snapshot may hold entries this node never saw applied anywhere:
	// they must agree with what others applied.
	n.sm = nil
	for _, e := range sm {
		c.apply(n, raft.Entry{Index: e.Index, Term: e.Term, Data: e.Data})
	}
	n.snapIndex = s.Meta.Index
}

// CheckLogMatching checks the log matching property over every pair of
// running nodes.
func (c *Cluster) CheckLogMatching() {
	c.t.Helper()
	type view struct {
		id          string
		first, last uint64
		ents        []raft.Entry
		r           *raft.Raft
	}
	var vs []view
	for _, n := range c.Nodes {
		if n.Raft == nil {
			continue
		}
		st := n.Raft.Status()
		vs = append(vs, view{n.ID, st.FirstIndex, st.LastIndex, n.Raft.Entries(st.FirstIndex, st.LastIndex+1), n.Raft})
	}
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			a, b := vs[i], vs[j]
			lo, hi := max(a.first, b.first), min(a.last, b.last)
			// The highest index where the terms agree...
			top := uint64(0)
			for k := hi; k >= lo && k > 0; k-- {
				if a.ents[k-a.first].Term == b.ents[k-b.first].Term {
					top = k
					break
				}
			}
			// ...must have identical entries below it.
			for k := lo; k <= top; k++ {
				ea, eb := a.ents[k-a.first], b.ents[k-b.first]
				if ea.Term != eb.Term || ea.Type != eb.Type || !bytes.Equal(ea.Data, eb.Data) {
					c.t.Fatalf("log matching: %s and %s agree at %d (term %d) but differ at %d: %+v vs %+v",
						a.id, b.id, top, a.ents[top-a.first].Term, k, ea, eb)
				}
			}
		}
	}
}

// ReadIndex starts a linearizable read at node id under a unique ctx; ok
// is false if the node refused (not the leader). When the read is answered
// the cluster checks it: its index must cover every entry committed before
// the call (so that a read cannot miss an acknowledged write).
func (c *Cluster) ReadIndex(id, ctx string) bool {
	n := c.byID[id]
	if n.Raft == nil {
		return false
	}
	if _, dup := c.reads[ctx]; dup {
		c.t.Fatalf("read ctx %q reused", ctx)
	}
	if err := n.Raft.ReadIndex([]byte(ctx)); err != nil {
		return false
	}
	c.reads[ctx] = c.maxCommitSeen
	c.process(n)
	return true
}

func (c *Cluster) checkRead(n *Node, rs raft.ReadState) {
	need, ok := c.reads[string(rs.RequestCtx)]
	if !ok {
		c.t.Fatalf("%s answered a read nobody made: %q", n.ID, rs.RequestCtx)
	}
	if rs.Index < need {
		if c.opts.CountStaleReads {
			c.StaleReads++
			return
		}
		c.t.Fatalf("stale read at %s: read %q got index %d, but %d was committed before it started",
			n.ID, rs.RequestCtx, rs.Index, need)
	}
	c.ReadsServed++
}

// ---- 6.5840-style checks and drivers ----

// Leaders returns the running, connected nodes that believe they lead.
func (c *Cluster) Leaders() []string {
	var ls []string
	for _, n := range c.Nodes {
		if n.Raft != nil && c.Net.IsConnected(n.ID) && n.Raft.Status().Role == raft.Leader {
			ls = append(ls, n.ID)
		}
	}
	return ls
}

// CheckOneLeader runs until some connected node leads the newest term
// among connected leaders, for at most maxTicks, and returns it.
func (c *Cluster) CheckOneLeader(maxTicks int) string {
	c.t.Helper()
	for range maxTicks {
		best, bestTerm := "", uint64(0)
		for _, id := range c.Leaders() {
			if t := c.byID[id].Raft.Status().Term; t >= bestTerm {
				best, bestTerm = id, t
			}
		}
		if best != "" {
			return best
		}
		c.Tick()
	}
	c.t.Fatalf("no leader after %d ticks", maxTicks)
	return ""
}

// CheckNoLeader fails if a connected node leads.
func (c *Cluster) CheckNoLeader() {
	c.t.Helper()
	if ls := c.Leaders(); len(ls) > 0 {
		c.t.Fatalf("expected no leader among connected nodes, found %v", ls)
	}
}

// CheckTerms returns the term all connected running nodes agree on.
func (c *Cluster) CheckTerms() uint64 {
	c.t.Helper()
	term := uint64(0)
	for _, n := range c.Nodes {
		if n.Raft == nil || !c.Net.IsConnected(n.ID) {
			continue
		}
		t := n.Raft.Status().Term
		if term == 0 {
			term = t
		} else if t != term {
			c.t.Fatalf("connected nodes disagree on term: %d vs %d", term, t)
		}
	}
	return term
}

// NCommitted returns how many nodes have applied index, and its data.
func (c *Cluster) NCommitted(index uint64) (int, []byte) {
	cnt := 0
	for _, n := range c.Nodes {
		if n.Applied() >= index {
			cnt++
		}
	}
	if cnt == 0 {
		return 0, nil
	}
	return cnt, c.committed[index].Data
}

// Propose proposes data at node id; ok is false if it does not lead. The
// entry goes out with the node's next Ready (Process, or the next Tick), so
// proposals made in between travel together.
func (c *Cluster) Propose(id string, data []byte) (index, term uint64, ok bool) {
	n := c.byID[id]
	if n.Raft == nil {
		return 0, 0, false
	}
	index, term, err := n.Raft.Propose(data)
	if err != nil {
		return 0, 0, false
	}
	return index, term, true
}

// Process carries out node id's pending Readys now.
func (c *Cluster) Process(id string) {
	if n := c.byID[id]; n.Raft != nil {
		c.process(n)
	}
}

// One gets cmd committed on at least expected nodes, proposing it at
// whichever node leads, within maxTicks; with retry it proposes again if
// the entry is lost. It returns the index.
func (c *Cluster) One(cmd []byte, expected int, retry bool) uint64 {
	c.t.Helper()
	const maxTicks = 1000
	start := c.now
	next := 0
	for c.now-start < maxTicks {
		index := uint64(0)
		for range c.Nodes {
			n := c.Nodes[next]
			next = (next + 1) % len(c.Nodes)
			if n.Raft != nil && c.Net.IsConnected(n.ID) {
				if i, _, ok := c.Propose(n.ID, cmd); ok {
					c.process(n)
					index = i
					break
				}
			}
		}
		if index != 0 {
			t0 := c.now
			for c.now-t0 < 200 {
				c.Deliver()
				if cnt, data := c.NCommitted(index); cnt >= expected && bytes.Equal(data, cmd) {
					return index
				}
				c.Tick()
			}
			if !retry {
				c.t.Fatalf("one(%q) failed to reach agreement at %d", cmd, index)
			}
		} else {
			c.Ticks(5)
		}
	}
	c.t.Fatalf("one(%q) failed to reach agreement in %d ticks", cmd, maxTicks)
	return 0
}

// Wait runs until n nodes applied index, for at most maxTicks, and returns
// the data there; it gives up early (nil) if a node moves past startTerm.
func (c *Cluster) Wait(index uint64, n int, startTerm uint64, maxTicks int) []byte {
	c.t.Helper()
	for range maxTicks {
		if cnt, data := c.NCommitted(index); cnt >= n {
			return data
		}
		if startTerm > 0 {
			for _, nd := range c.Nodes {
				if nd.Raft != nil && nd.Raft.Status().Term > startTerm {
					return nil
				}
			}
		}
		c.Tick()
	}
	cnt, _ := c.NCommitted(index)
	c.t.Fatalf("only %d of %d nodes applied %d after %d ticks", cnt, n, index, maxTicks)
	return nil
}

// Committed returns the entries applied anywhere, by index (1..max).
func (c *Cluster) Committed() [][]byte {
	out := make([][]byte, c.maxCommit)
	for i := range out {
		out[i] = c.committed[uint64(i+1)].Data
	}
	return out
}

// AppliedData returns the data a node applied, in order (no-ops included as nil).
func (n *Node) AppliedData() [][]byte {
	out := make([][]byte, len(n.sm))
	for i, e := range n.sm {
		out[i] = e.Data
	}
	return out
}

// Terms lists the terms that had a leader, ascending.
func (c *Cluster) Terms() []uint64 {
	var ts []uint64
	for t := range c.leaders {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}
