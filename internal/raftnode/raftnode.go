// Package raftnode runs the pure Raft core (internal/raft) inside a node of
// the curriculum's runtime (internal/node).
//
// The core does no I/O and reads no clock; this package supplies both. A
// periodic task turns wall-clock time into Ticks, Raft messages travel as
// node-to-node Maelstrom bodies (their types, raft_vote, raft_append, ...,
// are valid body types as they are), the durable state lives in raftdisk
// files in the node's data directory when the grader provides one (memory
// otherwise), and committed entries are applied to the track's
// StateMachine. On top of that it offers what client-facing handlers need:
// Submit (propose here, or forward to the leader, and wait for the entry to
// be applied), Read (a linearizable read through ReadIndex or the leader's
// lease) and Status.
//
// The elector, consensus and store tracks share this driver; they differ
// only in configuration and state machine. The sharder runs several Raft
// groups in one cluster by giving each node its group (Config.Peers).
package raftnode

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/raft/raftdisk"
)

// Config tunes the driver. Zero values choose the defaults noted.
type Config struct {
	// Tick is the wall-clock length of one Raft tick. Default 50 ms.
	Tick time.Duration
	// ElectionTicks is the base election timeout E in ticks (a follower
	// campaigns after a random [E, 2E) ticks without a leader). Default 10.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval in ticks. Default 2.
	HeartbeatTicks int
	// PreVote and CheckQuorum are the core's options of the same names.
	PreVote, CheckQuorum bool
	// LeaseRead serves reads from the leader's lease (needs CheckQuorum).
	LeaseRead bool
	// FixedTimeout removes the randomization of election timeouts: every
	// node waits exactly E ticks, and the ticks fall on the multiples of
	// Tick of the shared clock, so nodes that started apart still time out
	// together (as nodes with synchronized clocks would). Only the
	// elector's counter-example uses it, to show split votes.
	FixedTimeout bool
	// SnapshotEvery compacts the log each time this many entries were
	// applied since the last snapshot (0: never).
	SnapshotEvery uint64
	// Volatile keeps the Raft state in memory even when the node has a data
	// directory, so a killed node forgets its term, vote and log. Only a
	// counter-example uses it.
	Volatile bool
	// ForwardTimeout bounds one forwarded proposal (Submit on a follower).
	// Default 500 ms.
	ForwardTimeout time.Duration
	// Peers picks the Raft group this node belongs to from the cluster's
	// node ids, once init has named them (nil: every node). The sharder
	// runs several groups in one cluster this way. A node left out of the
	// group it is given runs no Raft at all: Submit and Read answer "not
	// the leader" (the filesystem's chunk servers beside its masters, with
	// FirstNodes).
	Peers func(self string, all []string) []string
}

// FirstNodes is a Config.Peers that makes the first n node ids of init (in
// init's order) the Raft group; the other nodes run no Raft.
func FirstNodes(n int) func(self string, all []string) []string {
	return func(_ string, all []string) []string { return all[:min(n, len(all))] }
}

// DefaultConfig is the setting every replicated service of the curriculum
// starts from: 50 ms ticks, a 500 ms to 1 s election timeout, a heartbeat
// every 100 ms, pre-vote and check-quorum, a snapshot every 1000 applied
// entries. Tracks change single fields (or take flags through
// RegisterFlags) rather than spelling the whole setting again.
func DefaultConfig() Config {
	return Config{Tick: 50 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 2,
		PreVote: true, CheckQuorum: true, SnapshotEvery: 1000}
}

func (c *Config) defaults() {
	if c.Tick <= 0 {
		c.Tick = 50 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 2
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 500 * time.Millisecond
	}
}

// StateMachine is the application the log drives. The driver calls it
// with its lock held, one call at a time, in log order.
type StateMachine interface {
	// Apply applies a committed entry's data and returns its result, which
	// Submit hands (JSON-encoded) to the proposer.
	Apply(index uint64, data []byte) any
	// Snapshot returns the state as of the last applied entry.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot's.
	Restore(data []byte) error
}

// Errors Submit and Read return besides a *raft.NotLeaderError.
var (
	// ErrLost: the entry was overwritten by another leader's; it will
	// never be applied, so the request may be retried safely.
	ErrLost = errors.New("raftnode: entry lost to a leader change")
	// ErrUnknown: a snapshot replaced the log before the entry's result was
	// seen; it may or may not have been applied.
	ErrUnknown = errors.New("raftnode: outcome unknown (installed a snapshot over it)")
	// ErrFailed: the node's disk or state machine failed; it serves nothing more.
	ErrFailed = errors.New("raftnode: node failed")
)

// Driver is one node's Raft.
type Driver struct {
	n   *node.Node
	cfg Config
	sm  StateMachine

	mu      sync.Mutex
	r       *raft.Raft // nil until init
	storage raft.Storage
	closer  io.Closer
	failed  error
	// repairSince is when the node started with damaged storage; zero
	// once its peers have repaired it (or if it never was damaged).
	repairSince time.Time
	applied     uint64
	snapshot    uint64 // index of the last snapshot taken or installed
	soft        raft.SoftState
	props       map[uint64]*waiter // by log index
	reads       map[string]*readWait
	nextRead    uint64
	ready       []*readWait // read index known, waiting for apply
	// msgCount counts Raft messages sent, by type (for Stats).
	msgCount map[raft.MessageType]int64
}

type waiter struct {
	term uint64
	ch   chan result
}

type result struct {
	val json.RawMessage
	err error
}

type readWait struct {
	index uint64
	fn    func() any
	ch    chan result
}

// messageTypes are the bodies the driver handles.
var messageTypes = []raft.MessageType{
	raft.MsgVote, raft.MsgVoteResp, raft.MsgPreVote, raft.MsgPreVoteResp,
	raft.MsgApp, raft.MsgAppResp, raft.MsgHeartbeat, raft.MsgHeartbeatResp,
	raft.MsgSnap, raft.MsgReadIndex, raft.MsgReadIndexResp,
	raft.MsgRepairQuery, raft.MsgRepairQueryResp,
}

// New attaches a Raft driver to n: it registers the Raft message handlers,
// the forwarding handler and the tick task, and creates the Raft node when
// init arrives (restoring from the data directory). sm may be nil when
// nothing is replicated (election only).
func New(n *node.Node, cfg Config, sm StateMachine) *Driver {
	cfg.defaults()
	d := &Driver{n: n, cfg: cfg, sm: sm, props: map[uint64]*waiter{}, reads: map[string]*readWait{},
		msgCount: map[raft.MessageType]int64{}}
	n.OnInit(d.start)
	for _, t := range messageTypes {
		n.Handle(string(t), d.handleRaft)
	}
	node.HandleTyped(n, "raft_propose", d.handleForward)
	every := n.Every
	if cfg.FixedTimeout {
		every = n.EveryAligned
	}
	every(cfg.Tick, func(context.Context) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.r != nil && d.failed == nil {
			d.r.Tick()
			d.drain()
		}
	})
	// A kill ends the node's context: close the files so a restart in the
	// same process (in-process grading) opens them afresh.
	context.AfterFunc(n.Context(), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closer != nil {
			_ = d.closer.Close()
			d.closer = nil
		}
		if d.failed == nil {
			d.failed = ErrFailed
		}
	})
	return d
}

func (d *Driver) start() error {
	peers := d.n.NodeIDs()
	if d.cfg.Peers != nil {
		peers = d.cfg.Peers(d.n.ID(), peers)
	}
	if !slices.Contains(peers, d.n.ID()) {
		return nil // not a member: Submit and Read answer "not the leader"
	}
	var storage raft.Storage = raft.NewMemoryStorage()
	var closer io.Closer
	if dir := d.n.DataDir(); dir != "" && !d.cfg.Volatile {
		s, err := raftdisk.Open(d.n.Storage(), dir)
		if err != nil {
			return fmt.Errorf("raftnode: open storage in the data directory: %w", err)
		}
		if s.Recovered.Damage != "" {
			d.n.Logger().Warn("storage damaged: kept what verifies, repairing from peers", "damage", s.Recovered.Damage)
		}
		storage, closer = s, s
	}
	rc := raft.Config{
		ID: d.n.ID(), Peers: peers, Storage: storage,
		ElectionTicks: d.cfg.ElectionTicks, HeartbeatTicks: d.cfg.HeartbeatTicks,
		PreVote: d.cfg.PreVote, CheckQuorum: d.cfg.CheckQuorum, LeaseRead: d.cfg.LeaseRead,
	}
	if d.cfg.FixedTimeout {
		rc.Rand = rand.New(fixedSource{})
	}
	r, err := raft.New(rc)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.r, d.storage, d.closer = r, storage, closer
	if r.Status().Repairing {
		d.repairSince = time.Now()
	}
	d.soft = raft.SoftState{Role: raft.Follower, Term: r.Status().Term}
	d.drain() // hands back a stored snapshot and re-applies committed entries
	return nil
}

// fixedSource makes every node draw the same "random" numbers, so every
// node waits the same election timeout.
type fixedSource struct{}

func (fixedSource) Uint64() uint64 { return 1 }

func (d *Driver) handleRaft(msg node.Message) error {
	var m raft.Message
	if err := json.Unmarshal(msg.Body, &m); err != nil {
		d.n.Logger().Warn("dropping undecodable raft message", "src", msg.Src, "err", err)
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.r == nil || d.failed != nil {
		return nil
	}
	if err := d.r.Step(m); err != nil {
		d.n.Logger().Warn("raft rejected a message", "src", msg.Src, "type", m.Type, "err", err)
	}
	d.drain()
	return nil
}

// drain carries out every pending Ready, then compacts the log when due.
// It requires d.mu.
func (d *Driver) drain() {
	if d.failed != nil {
		return
	}
	h := raft.Handler{
		State: func(s raft.SoftState) { d.soft = s },
		Send: func(m raft.Message) {
			d.msgCount[m.Type]++
			// Dropping is fine: Raft retransmits.
			_ = d.n.Send(m.To, m)
		},
		Restore: d.restore,
		Apply:   d.apply,
		Read:    d.readState,
	}
	if err := d.r.Drain(d.storage, h); err != nil {
		d.fail(err)
		return
	}
	if !d.repairSince.IsZero() && !d.r.Status().Repairing {
		d.n.Logger().Info("repaired from peers: voting again", "after", time.Since(d.repairSince).String(), "applied", d.applied)
		d.repairSince = time.Time{}
	}
	if d.sm != nil && d.cfg.SnapshotEvery > 0 && d.applied-d.snapshot >= d.cfg.SnapshotEvery {
		data, err := d.sm.Snapshot()
		if err == nil {
			err = d.r.Compact(d.applied, data)
		}
		if err != nil {
			d.fail(fmt.Errorf("snapshot at %d: %w", d.applied, err))
			return
		}
		d.snapshot = d.applied
		if err := d.r.Drain(d.storage, h); err != nil {
			d.fail(err)
		}
	}
}

// fail stops the node's Raft: its disk or state machine can no longer be
// trusted, so it must not vote or acknowledge anything again.
func (d *Driver) fail(err error) {
	d.failed = fmt.Errorf("%w: %v", ErrFailed, err)
	d.n.Logger().Error("raft node stopped", "err", err)
	for i, w := range d.props {
		w.ch <- result{err: d.failed}
		delete(d.props, i)
	}
}

func (d *Driver) restore(s raft.Snapshot) error {
	if d.sm != nil {
		if err := d.sm.Restore(s.Data); err != nil {
			return err
		}
	}
	d.applied, d.snapshot = s.Meta.Index, s.Meta.Index
	for i, w := range d.props {
		if i <= s.Meta.Index {
			w.ch <- result{err: ErrUnknown}
			delete(d.props, i)
		}
	}
	return nil
}

func (d *Driver) apply(e raft.Entry) error {
	d.applied = e.Index
	var val any
	if e.Type == raft.EntryNormal && d.sm != nil {
		val = d.sm.Apply(e.Index, e.Data)
	}
	if w := d.props[e.Index]; w != nil {
		delete(d.props, e.Index)
		if w.term != e.Term || e.Type != raft.EntryNormal {
			w.ch <- result{err: ErrLost}
		} else {
			raw, err := json.Marshal(val)
			w.ch <- result{val: raw, err: err}
		}
	}
	d.serveReads()
	return nil
}

func (d *Driver) readState(rs raft.ReadState) {
	w := d.reads[string(rs.RequestCtx)]
	if w == nil {
		return // timed out and gone
	}
	delete(d.reads, string(rs.RequestCtx))
	w.index = rs.Index
	d.ready = append(d.ready, w)
	d.serveReads()
}

// serveReads answers reads whose index has been applied.
func (d *Driver) serveReads() {
	keep := d.ready[:0]
	for _, w := range d.ready {
		if w.index > d.applied {
			keep = append(keep, w)
			continue
		}
		raw, err := json.Marshal(w.fn())
		w.ch <- result{val: raw, err: err}
	}
	clear(d.ready[len(keep):])
	d.ready = keep
}

// Propose appends data to the log if this node leads and waits until it is
// applied, returning the state machine's result as JSON. Elsewhere it
// returns a *raft.NotLeaderError naming the leader, if known.
func (d *Driver) Propose(ctx context.Context, data []byte) (json.RawMessage, error) {
	d.mu.Lock()
	if err := d.usable(); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	index, term, err := d.r.Propose(data)
	if err != nil {
		d.mu.Unlock()
		return nil, err
	}
	w := &waiter{term: term, ch: make(chan result, 1)}
	d.props[index] = w
	d.drain()
	d.mu.Unlock()
	select {
	case res := <-w.ch:
		return res.val, res.err
	case <-ctx.Done():
		d.mu.Lock()
		if d.props[index] == w {
			delete(d.props, index)
		}
		d.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (d *Driver) usable() error {
	if d.failed != nil {
		return d.failed
	}
	if d.r == nil {
		return &raft.NotLeaderError{}
	}
	return nil
}

// forwardBody carries a proposal from a follower to the leader.
type forwardBody struct {
	Type string `json:"type"`
	Data []byte `json:"data"`
}

type forwardOK struct {
	Type   string          `json:"type"`
	Result json.RawMessage `json:"result"`
}

// handleForward proposes a follower's entry. It never forwards further:
// a stale hint costs the follower one round trip, never a loop.
func (d *Driver) handleForward(_ node.Message, req forwardBody) (any, error) {
	ctx, cancel := context.WithTimeout(d.n.Context(), d.cfg.ForwardTimeout)
	defer cancel()
	val, err := d.Propose(ctx, req.Data)
	if err != nil {
		return nil, toRPCError(err)
	}
	return forwardOK{Type: "raft_propose_ok", Result: val}, nil
}

// Submit makes data an applied entry through whichever node leads: here,
// or forwarded to the leader this node knows. It retries (after a leader
// change, a lost entry or a forwarding timeout) until ctx ends, so the data
// may be applied more than once: state machines de-duplicate with Sessions.
// Once an attempt may have reached a leader's log, a failure is reported as
// a timeout (indefinite), never as "not the leader" (definite): the entry
// may still be committed.
func (d *Driver) Submit(ctx context.Context, data []byte) (json.RawMessage, error) {
	maybe := false
	for {
		val, sent, err := d.submitOnce(ctx, data)
		maybe = maybe || sent
		if err == nil {
			return val, nil
		}
		var rpc *node.RPCError
		switch {
		case errors.Is(err, ErrFailed):
			return nil, err
		case errors.As(err, &rpc) && rpc.Code != node.TemporarilyUnavailable && rpc.Code != node.Timeout:
			return nil, err // the leader refused it for good
		}
		// No leader yet, a stale hint, a lost entry or a timeout: wait a
		// tick and retry, while there is time.
		t := time.NewTimer(d.cfg.Tick)
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		if maybe {
			return nil, node.NewRPCError(node.Timeout, fmt.Sprintf("not confirmed in time (last attempt: %v); it may still be applied", err))
		}
		return nil, err
	}
}

// Submitter puts a command in a log and returns its result once applied:
// a Driver, or a single node's journal that stands in for one.
type Submitter interface {
	Submit(ctx context.Context, data []byte) (json.RawMessage, error)
}

// SubmitFor submits data through s and decodes the applied command's
// answer into res (a pointer). It returns the error the client gets: the
// submission's (see RPCError) or the answer's own.
func SubmitFor(ctx context.Context, s Submitter, data []byte, res Answer) error {
	raw, err := s.Submit(ctx, data)
	if err != nil {
		return toRPCError(err)
	}
	if err := json.Unmarshal(raw, res); err != nil {
		return fmt.Errorf("decode result %s: %w", raw, err)
	}
	return res.Failure()
}

// submitOnce makes one attempt; sent reports whether the data may have
// reached a leader's log.
func (d *Driver) submitOnce(ctx context.Context, data []byte) (val json.RawMessage, sent bool, err error) {
	val, err = d.Propose(ctx, data)
	var nl *raft.NotLeaderError
	if !errors.As(err, &nl) {
		// Only a lost entry is certainly out of every log.
		return val, !errors.Is(err, ErrLost), err
	}
	if nl.Leader == "" || nl.Leader == d.n.ID() {
		return nil, false, err
	}
	fctx, cancel := context.WithTimeout(ctx, d.cfg.ForwardTimeout)
	defer cancel()
	resp, err := node.Call[forwardOK](fctx, d.n, nl.Leader, forwardBody{Type: "raft_propose", Data: data})
	if err != nil {
		var rpc *node.RPCError
		if errors.As(err, &rpc) && rpc.Code == node.TemporarilyUnavailable {
			return nil, false, err // not the leader, or the entry was lost: not in any log
		}
		if fctx.Err() != nil && ctx.Err() == nil {
			err = node.NewRPCError(node.Timeout, "forwarded proposal to "+nl.Leader+" timed out")
		}
		return nil, true, err
	}
	return resp.Result, true, nil
}

// Read runs fn against the state machine once it reflects every entry
// committed before the call: the leader confirms its leadership with a
// round of heartbeats (or its lease), a follower asks the leader for the
// read index. fn's result is returned JSON-encoded. A read lost to a
// leader change is never answered, so ctx must carry a deadline.
func (d *Driver) Read(ctx context.Context, fn func() any) (json.RawMessage, error) {
	d.mu.Lock()
	if err := d.usable(); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.nextRead++
	key := d.n.ID() + "/" + strconv.FormatUint(d.nextRead, 10)
	w := &readWait{fn: fn, ch: make(chan result, 1)}
	if err := d.r.ReadIndex([]byte(key)); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.reads[key] = w
	d.drain()
	d.mu.Unlock()
	select {
	case res := <-w.ch:
		return res.val, res.err
	case <-ctx.Done():
		d.mu.Lock()
		delete(d.reads, key)
		for i, r := range d.ready {
			if r == w {
				d.ready = append(d.ready[:i], d.ready[i+1:]...)
				break
			}
		}
		d.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Status is the node's role, term and leader as the elector's status
// message reports them.
func (d *Driver) Status() raft.SoftState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.soft
}

// Applied is the index of the last applied entry.
func (d *Driver) Applied() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applied
}

// Sent returns how many Raft messages of each type this node sent.
func (d *Driver) Sent() map[raft.MessageType]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[raft.MessageType]int64, len(d.msgCount))
	for k, v := range d.msgCount {
		out[k] = v
	}
	return out
}

// toRPCError maps driver errors to Maelstrom error codes a client can act
// on: not the leader is definite (11), a timeout or an unknown outcome is
// not.
func toRPCError(err error) error {
	var rpc *node.RPCError
	var nl *raft.NotLeaderError
	switch {
	case errors.As(err, &rpc):
		return rpc
	case errors.As(err, &nl):
		return NotLeader(nl.Leader)
	case errors.Is(err, ErrLost):
		return node.NewRPCError(node.TemporarilyUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return node.NewRPCError(node.Timeout, "not committed in time: "+err.Error())
	}
	return node.NewRPCError(node.Crash, err.Error())
}

// RPCError turns an error from Submit or Read into the error reply a
// client should get.
func RPCError(err error) error { return toRPCError(err) }

// NotLeader is error 11 with the leader hint in its text ("" if unknown).
func NotLeader(leader string) *node.RPCError {
	if leader == "" {
		return node.NewRPCError(node.TemporarilyUnavailable, "not the leader; leader unknown")
	}
	return node.NewRPCError(node.TemporarilyUnavailable, "not the leader; try "+leader)
}

// RegisterFlags adds the timing and storage flags every Raft track takes,
// with c's current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.defaults()
	fs.DurationVar(&c.Tick, "tick", c.Tick, "length of one Raft tick")
	fs.IntVar(&c.ElectionTicks, "election-ticks", c.ElectionTicks, "base election timeout E in ticks (random in [E, 2E))")
	fs.IntVar(&c.HeartbeatTicks, "heartbeat-ticks", c.HeartbeatTicks, "leader heartbeat interval in ticks")
	fs.Uint64Var(&c.SnapshotEvery, "snapshot-every", c.SnapshotEvery, "take a snapshot and compact the log every N applied entries (0: never)")
	fs.BoolVar(&c.Volatile, "volatile", c.Volatile, "keep Raft state in memory even with a data directory (counter-example: forgets across kills)")
}

// View runs fn with the driver's lock held, so that fn sees the state
// machine between two applied entries. It is for local, possibly stale
// reads (Read is the linearizable one).
func (d *Driver) View(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn()
}

// ProposeUnconfirmed appends data to the log if this node leads and
// returns without waiting for a commit. fn runs with the lock held and
// learns how many normal entries the log holds past the last applied one,
// this one included. It exists for a counter-example: a node that
// acknowledges what it has not committed loses acknowledged writes when
// it is cut off from the majority.
func (d *Driver) ProposeUnconfirmed(data []byte, fn func(ahead int)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	index, _, err := d.r.Propose(data)
	if err != nil {
		return err
	}
	ahead := 0
	for _, e := range d.r.Entries(d.applied+1, index+1) {
		if e.Type == raft.EntryNormal {
			ahead++
		}
	}
	fn(ahead)
	d.drain()
	return nil
}
