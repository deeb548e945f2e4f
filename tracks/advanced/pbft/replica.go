package pbft

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/rto"
)

// Config configures a replica.
type Config struct {
	ID   string
	IDs  []string // every replica, in the same order at every node
	Keys *Keyring
	// CheckpointEvery K: a checkpoint after every K executed sequence
	// numbers. Window L: a primary assigns at most L numbers past the
	// stable checkpoint.
	CheckpointEvery uint64
	Window          uint64
	// TimeoutTicks: a request pending this many ticks without executing
	// makes a backup suspect the primary; a view change that does not
	// complete in this many ticks moves on to the next view. Each view
	// change doubles both timeouts (up to 16 times this) until a request
	// executes again, as in the PBFT paper: when timeouts are too short
	// for the network, views must not change faster than they can
	// complete.
	TimeoutTicks uint64
}

// Out is a message to send: To names a node, or is "" for every other
// replica.
type Out struct {
	To string
	M  Msg
}

// Stats are what a replica saw of faults.
type Stats struct {
	Rejected      map[string]int // reason -> messages dropped
	Equivocations []string       // evidence, one line each
	ViewChanges   int            // views this replica entered after 0
}

type entry struct {
	pp        *Msg
	prepares  map[string]Msg
	commits   map[string]Msg
	sentCmt   bool
	committed bool
}

type pend struct {
	req   Msg
	since uint64
}

// Replica is the PBFT state machine of one replica. It does no I/O and
// reads no clock: Step takes a message, Tick is one tick of logical time,
// and both return the messages to send.
type Replica struct {
	cfg Config
	n   int
	f   int

	view     uint64
	changing bool   // sent a view change, waiting for its new view
	target   uint64 // the view being changed to
	deadline uint64 // tick at which the view change gives up on target
	timeout  uint64 // the request and view-change timeout now, in ticks
	// latency smooths the ticks requests took here from pending to
	// executed, which set the timeout a working view returns to
	// (baseTimeout).
	latency rto.Estimator
	sentNV  map[uint64]bool

	seqNext  uint64 // the primary's last assigned sequence number
	h        uint64 // stable checkpoint: the low water mark
	lastExec uint64

	log      map[uint64]*entry
	prepared map[uint64]Cert // the highest-view certificate per sequence number
	state    Snapshot
	stable   []Msg // proof of h

	checkpoints map[uint64]map[string]Msg
	pending     map[string]pend // client slot -> its latest unexecuted request
	assigned    map[string]bool // request digests given a number in this view
	vcs         map[uint64]map[string]Msg
	// early holds pre-prepares, prepares and commits of views above
	// ours, in arrival order, until the new view is entered: on a real
	// network a view's first messages often overtake its (much larger)
	// new-view message, and a view whose messages were dropped on
	// arrival could never reach its quorums.
	early   []Msg
	earlyBy map[string]int // sender -> messages of its in early

	ticks uint64
	stats Stats
}

// maxBackoff caps the doubling of the timeouts at 2^maxBackoff times
// TimeoutTicks.
const maxBackoff = 4

// baseTimeout is the request timeout of a view that works: TimeoutTicks,
// or longer where requests take longer to execute here (srtt + 4 rttvar,
// TCP's retransmission timeout, see internal/rto), so that a slow network or a loaded
// machine does not have backups suspect an honest primary at every
// request, which turns into view changes that never end. It is capped at
// 2^maxBackoff TimeoutTicks: a primary that delays every request cannot
// stretch it without bound.
func (r *Replica) baseTimeout() uint64 {
	t := r.cfg.TimeoutTicks
	if r.latency.Samples() > 0 {
		t = max(t, uint64(math.Ceil(r.latency.Timeout())))
	}
	return min(t, r.cfg.TimeoutTicks<<maxBackoff)
}

// NewReplica returns a replica in view 0 with an empty store.
func NewReplica(cfg Config) *Replica {
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 8
	}
	if cfg.Window == 0 {
		cfg.Window = 4 * cfg.CheckpointEvery
	}
	if cfg.TimeoutTicks == 0 {
		cfg.TimeoutTicks = 10
	}
	return &Replica{
		cfg: cfg, n: len(cfg.IDs), f: (len(cfg.IDs) - 1) / 3,
		sentNV: map[uint64]bool{}, log: map[uint64]*entry{}, prepared: map[uint64]Cert{},
		state:       Snapshot{KV: map[string]json.RawMessage{}, Clients: map[string]ClientRec{}},
		checkpoints: map[uint64]map[string]Msg{}, pending: map[string]pend{},
		assigned: map[string]bool{}, vcs: map[uint64]map[string]Msg{}, earlyBy: map[string]int{},
		stats:   Stats{Rejected: map[string]int{}},
		timeout: cfg.TimeoutTicks,
	}
}

// View returns the current view and whether a view change is under way.
func (r *Replica) View() (uint64, bool) { return r.view, r.changing }

// Executed returns the last executed sequence number and the stable one.
func (r *Replica) Executed() (lastExec, stable uint64) { return r.lastExec, r.h }

// Stats returns what the replica rejected and detected.
func (r *Replica) Stats() Stats { return r.stats }

// Get returns a key's value in the replica's state (for tests).
func (r *Replica) Get(key string) (json.RawMessage, bool) {
	v, ok := r.state.KV[key]
	return v, ok
}

func (r *Replica) primary(v uint64) string { return r.cfg.IDs[v%uint64(r.n)] }

func (r *Replica) isReplica(id string) bool {
	for _, x := range r.cfg.IDs {
		if x == id {
			return true
		}
	}
	return false
}

func (r *Replica) reject(reason string) []Out {
	r.stats.Rejected[reason]++
	return nil
}

func (r *Replica) sign(m Msg) Msg { return r.cfg.Keys.Sign(m) }

func (r *Replica) entry(seq uint64) *entry {
	e := r.log[seq]
	if e == nil {
		e = &entry{prepares: map[string]Msg{}, commits: map[string]Msg{}}
		r.log[seq] = e
	}
	return e
}

// Step handles one message and returns what to send. Messages without a
// valid signature of the node they name are dropped.
func (r *Replica) Step(m Msg) []Out {
	if !r.cfg.Keys.Verify(m) {
		return r.reject("bad signature")
	}
	if m.Kind != KindRequest && !r.isReplica(m.From) {
		return r.reject("not a replica")
	}
	switch m.Kind {
	case KindRequest:
		return r.onRequest(m)
	case KindPrePrepare:
		return r.onPrePrepare(m)
	case KindPrepare, KindCommit:
		return r.onVote(m)
	case KindCheckpoint:
		return r.onCheckpoint(m)
	case KindViewChange:
		return r.onViewChange(m)
	case KindNewView:
		return r.onNewView(m)
	}
	return r.reject("unknown kind")
}

func clientNode(slot string) string {
	n, _, _ := strings.Cut(slot, "/")
	return n
}

func (r *Replica) onRequest(m Msg) []Out {
	if m.Op == nil || !r.isReplica(clientNode(m.From)) {
		return r.reject("malformed request")
	}
	if rec, ok := r.state.Clients[m.From]; ok && m.TS <= rec.TS {
		if m.TS == rec.TS { // a retransmission: answer again
			return []Out{r.reply(m.From, rec)}
		}
		return nil
	}
	if p, ok := r.pending[m.From]; !ok || p.req.TS < m.TS {
		r.pending[m.From] = pend{req: m, since: r.ticks}
	}
	if r.primary(r.view) == r.cfg.ID && !r.changing {
		return r.assign(m)
	}
	return nil
}

func (r *Replica) reply(slot string, rec ClientRec) Out {
	return Out{To: clientNode(slot), M: r.sign(Msg{Kind: KindReply, View: r.view, Client: slot, TS: rec.TS, Result: rec.Result})}
}

// assign gives a request the next sequence number (primary only).
func (r *Replica) assign(req Msg) []Out {
	d := digest(req)
	if r.assigned[d] || r.seqNext+1 > r.h+r.cfg.Window {
		return nil
	}
	r.seqNext++
	r.assigned[d] = true
	pp := r.sign(Msg{Kind: KindPrePrepare, View: r.view, Seq: r.seqNext, Digest: d, Req: &req})
	r.entry(pp.Seq).pp = &pp
	return append([]Out{{M: pp}}, r.check(pp.Seq)...)
}

// assignPending orders every pending request not yet ordered (after a
// new view, or when the window opens).
func (r *Replica) assignPending() []Out {
	if r.primary(r.view) != r.cfg.ID || r.changing {
		return nil
	}
	keys := make([]string, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Out
	for _, k := range keys {
		out = append(out, r.assign(r.pending[k].req)...)
	}
	return out
}

// validPrePrepare checks a pre-prepare's signer and contents, whatever
// view it belongs to.
func (r *Replica) validPrePrepare(m Msg) bool {
	if m.Kind != KindPrePrepare || m.From != r.primary(m.View) || !r.cfg.Keys.Verify(m) {
		return false
	}
	if m.Req == nil {
		return m.Digest == nullDigest
	}
	return m.Req.Kind == KindRequest && m.Req.Op != nil && r.cfg.Keys.Verify(*m.Req) && digest(*m.Req) == m.Digest
}

func (r *Replica) whyOut(m Msg) string {
	switch {
	case m.View < r.view:
		return "old view"
	case r.changing:
		return "changing view"
	case m.Seq <= r.h:
		return "below the window"
	}
	return "above the window"
}

func (r *Replica) inWindow(seq uint64) bool { return seq > r.h && seq <= r.h+r.cfg.Window }

func (r *Replica) onPrePrepare(m Msg) []Out {
	if !r.validPrePrepare(m) {
		return r.reject("invalid pre-prepare")
	}
	if m.View > r.view {
		return r.keepEarly(m)
	}
	if m.View != r.view || r.changing || !r.inWindow(m.Seq) {
		return r.reject(r.whyOut(m))
	}
	e := r.entry(m.Seq)
	if e.pp != nil {
		if e.pp.Digest != m.Digest {
			// Two pre-prepares signed by one primary for one (view, seq):
			// proof that the primary lies. Replace it.
			r.stats.Equivocations = append(r.stats.Equivocations, fmt.Sprintf(
				"primary %s signed two pre-prepares for view %d seq %d: %.12s and %.12s", m.From, m.View, m.Seq, e.pp.Digest, m.Digest))
			return r.startViewChange(r.view + 1)
		}
		return nil
	}
	e.pp = &m
	if m.Req != nil {
		if rec, ok := r.state.Clients[m.Req.From]; !ok || rec.TS < m.Req.TS {
			if p, ok := r.pending[m.Req.From]; !ok || p.req.TS < m.Req.TS {
				r.pending[m.Req.From] = pend{req: *m.Req, since: r.ticks}
			}
		}
	}
	p := r.sign(Msg{Kind: KindPrepare, View: m.View, Seq: m.Seq, Digest: m.Digest})
	e.prepares[r.cfg.ID] = p
	return append([]Out{{M: p}}, r.check(m.Seq)...)
}

func (r *Replica) onVote(m Msg) []Out {
	if m.Kind == KindPrepare && m.From == r.primary(m.View) {
		return r.reject("prepare from the primary")
	}
	if m.View > r.view {
		return r.keepEarly(m)
	}
	if m.View != r.view || r.changing || !r.inWindow(m.Seq) {
		return r.reject(r.whyOut(m))
	}
	e := r.entry(m.Seq)
	votes := e.prepares
	if m.Kind == KindCommit {
		votes = e.commits
	}
	if old, ok := votes[m.From]; ok {
		if old.Digest != m.Digest {
			r.stats.Equivocations = append(r.stats.Equivocations, fmt.Sprintf(
				"replica %s signed two %ss for view %d seq %d", m.From, m.Kind, m.View, m.Seq))
		}
		return nil
	}
	votes[m.From] = m
	return r.check(m.Seq)
}

// keepEarly holds a message of a view above ours. Each sender may have
// at most three messages (pre-prepare, prepare, commit) per number of
// the window held, so a liar inventing future views fills only its own
// share.
func (r *Replica) keepEarly(m Msg) []Out {
	if r.earlyBy[m.From] >= 3*int(r.cfg.Window) {
		return r.reject("too many messages of future views")
	}
	r.earlyBy[m.From]++
	r.early = append(r.early, m)
	return nil
}

// replayEarly hands the held messages of the view just entered to the
// replica and forgets those of views now passed.
func (r *Replica) replayEarly() []Out {
	held := r.early
	r.early, r.earlyBy = nil, map[string]int{}
	var out []Out
	for _, m := range held {
		switch {
		case m.View > r.view:
			r.earlyBy[m.From]++
			r.early = append(r.early, m)
		case m.View == r.view && m.Kind == KindPrePrepare:
			out = append(out, r.onPrePrepare(m)...)
		case m.View == r.view:
			out = append(out, r.onVote(m)...)
		}
	}
	return out
}

func matching(votes map[string]Msg, d string) []Msg {
	var out []Msg
	for _, v := range votes {
		if v.Digest == d {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out
}

// check moves an entry on: prepared (pre-prepare + 2f prepares) sends a
// commit; committed (prepared + 2f+1 commits) executes.
func (r *Replica) check(seq uint64) []Out {
	e := r.log[seq]
	if e == nil || e.pp == nil {
		return nil
	}
	var out []Out
	prep := matching(e.prepares, e.pp.Digest)
	if len(prep) >= 2*r.f && !e.sentCmt {
		e.sentCmt = true
		r.prepared[seq] = Cert{PrePrepare: *e.pp, Prepares: prep[:2*r.f]}
		c := r.sign(Msg{Kind: KindCommit, View: e.pp.View, Seq: seq, Digest: e.pp.Digest})
		e.commits[r.cfg.ID] = c
		out = append(out, Out{M: c})
	}
	if e.sentCmt && !e.committed && len(matching(e.commits, e.pp.Digest)) >= 2*r.f+1 {
		e.committed = true
		out = append(out, r.execute()...)
	}
	return out
}

// execute runs committed entries in sequence order.
func (r *Replica) execute() []Out {
	var out []Out
	for {
		e := r.log[r.lastExec+1]
		if e == nil || !e.committed {
			return out
		}
		r.lastExec++
		if req := e.pp.Req; req != nil {
			delete(r.assigned, e.pp.Digest)
			rec, seen := r.state.Clients[req.From]
			if !seen || rec.TS < req.TS {
				if p, ok := r.pending[req.From]; ok && p.req.TS == req.TS {
					r.latency.Sample(float64(r.ticks - p.since))
				}
				r.timeout = r.baseTimeout() // progress: the view works
				rec = ClientRec{TS: req.TS, Result: apply(r.state.KV, *req.Op)}
				r.state.Clients[req.From] = rec
				out = append(out, r.reply(req.From, rec))
			}
			if p, ok := r.pending[req.From]; ok && p.req.TS <= rec.TS {
				delete(r.pending, req.From)
			}
		}
		if r.lastExec%r.cfg.CheckpointEvery == 0 {
			snap := r.state.clone()
			c := r.sign(Msg{Kind: KindCheckpoint, View: r.view, Seq: r.lastExec, Digest: digest(snap), State: &snap})
			r.addCheckpoint(c)
			out = append(out, Out{M: c})
			out = append(out, r.checkStable(c.Seq)...)
		}
	}
}

func (r *Replica) addCheckpoint(m Msg) {
	if r.checkpoints[m.Seq] == nil {
		r.checkpoints[m.Seq] = map[string]Msg{}
	}
	r.checkpoints[m.Seq][m.From] = m
}

func validCheckpoint(m Msg) bool {
	return m.Kind == KindCheckpoint && m.State != nil && digest(*m.State) == m.Digest
}

func (r *Replica) onCheckpoint(m Msg) []Out {
	if !validCheckpoint(m) {
		return r.reject("checkpoint state does not match its digest")
	}
	if m.Seq <= r.h || m.Seq%r.cfg.CheckpointEvery != 0 {
		return nil
	}
	r.addCheckpoint(m)
	return r.checkStable(m.Seq)
}

// checkStable makes seq the stable checkpoint once 2f+1 replicas signed
// the same state for it; a replica that fell behind adopts that state.
func (r *Replica) checkStable(seq uint64) []Out {
	if seq <= r.h {
		return nil
	}
	groups := map[string][]Msg{}
	for _, c := range r.checkpoints[seq] {
		groups[c.Digest] = append(groups[c.Digest], c)
	}
	for _, g := range groups {
		if len(g) >= 2*r.f+1 {
			sort.Slice(g, func(i, j int) bool { return g[i].From < g[j].From })
			return r.stabilize(g[:2*r.f+1])
		}
	}
	return nil
}

// stabilize installs a proven checkpoint and collects the garbage below.
func (r *Replica) stabilize(proof []Msg) []Out {
	seq := proof[0].Seq
	if seq <= r.h {
		return nil
	}
	if r.lastExec < seq {
		r.state = proof[0].State.clone()
		r.lastExec = seq
		for c, p := range r.pending {
			if rec, ok := r.state.Clients[c]; ok && p.req.TS <= rec.TS {
				delete(r.pending, c)
			}
		}
	}
	r.h, r.stable = seq, proof
	for s := range r.log {
		if s <= seq {
			delete(r.log, s)
		}
	}
	for s := range r.prepared {
		if s <= seq {
			delete(r.prepared, s)
		}
	}
	for s := range r.checkpoints {
		if s <= seq {
			delete(r.checkpoints, s)
		}
	}
	if r.seqNext < seq {
		r.seqNext = seq
	}
	out := r.execute()
	return append(out, r.assignPending()...)
}

// lagging reports whether f+1 replicas (so at least one correct one)
// checkpointed past what this replica executed: it missed messages and
// waits for a stable checkpoint rather than blame the primary.
func (r *Replica) lagging() bool {
	for s, cs := range r.checkpoints {
		if s > r.lastExec && len(cs) >= r.f+1 {
			return true
		}
	}
	return false
}

// Tick advances logical time: a request pending too long starts a view
// change; a view change pending too long moves to the next view.
func (r *Replica) Tick() []Out {
	r.ticks++
	if r.changing {
		if r.ticks >= r.deadline {
			return r.startViewChange(r.target + 1)
		}
		return nil
	}
	for _, p := range r.pending {
		if r.ticks-p.since >= r.timeout {
			if r.lagging() {
				return nil
			}
			return r.startViewChange(r.view + 1)
		}
	}
	return nil
}

func (r *Replica) startViewChange(v uint64) []Out {
	if v <= r.view || (r.changing && v <= r.target) {
		return nil
	}
	r.changing, r.target = true, v
	r.deadline = r.ticks + r.timeout
	r.timeout = min(2*r.timeout, r.cfg.TimeoutTicks<<maxBackoff)
	var certs []Cert
	seqs := make([]uint64, 0, len(r.prepared))
	for s := range r.prepared {
		if s > r.h {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		certs = append(certs, r.prepared[s])
	}
	vc := r.sign(Msg{Kind: KindViewChange, View: v, Seq: r.h, Proof: r.stable, Prepared: certs})
	return append([]Out{{M: vc}}, r.addViewChange(vc)...)
}

// validViewChange checks a view change's checkpoint proof and
// certificates.
func (r *Replica) validViewChange(m Msg) bool {
	if m.Kind != KindViewChange || !r.cfg.Keys.Verify(m) || !r.isReplica(m.From) {
		return false
	}
	if m.Seq > 0 {
		if !r.validCheckpointProof(m.Proof, m.Seq) {
			return false
		}
	}
	for _, c := range m.Prepared {
		pp := c.PrePrepare
		if !r.validPrePrepare(pp) || pp.View >= m.View || pp.Seq <= m.Seq || len(c.Prepares) < 2*r.f {
			return false
		}
		seen := map[string]bool{}
		for _, p := range c.Prepares {
			if p.Kind != KindPrepare || p.View != pp.View || p.Seq != pp.Seq || p.Digest != pp.Digest ||
				p.From == r.primary(pp.View) || seen[p.From] || !r.isReplica(p.From) || !r.cfg.Keys.Verify(p) {
				return false
			}
			seen[p.From] = true
		}
	}
	return true
}

func (r *Replica) validCheckpointProof(proof []Msg, seq uint64) bool {
	if len(proof) < 2*r.f+1 {
		return false
	}
	seen := map[string]bool{}
	for _, c := range proof {
		if c.Seq != seq || c.Digest != proof[0].Digest || seen[c.From] || !r.isReplica(c.From) ||
			!validCheckpoint(c) || !r.cfg.Keys.Verify(c) {
			return false
		}
		seen[c.From] = true
	}
	return true
}

func (r *Replica) onViewChange(m Msg) []Out {
	if m.View <= r.view {
		return nil
	}
	if !r.validViewChange(m) {
		return r.reject("invalid view change")
	}
	return r.addViewChange(m)
}

func (r *Replica) addViewChange(m Msg) []Out {
	if r.vcs[m.View] == nil {
		r.vcs[m.View] = map[string]Msg{}
	}
	r.vcs[m.View][m.From] = m
	var out []Out
	// f+1 replicas want a view above ours: at least one correct replica
	// timed out, so join the smallest such view rather than wait.
	if !r.changing || m.View > r.target {
		above := map[string]uint64{}
		for v, byFrom := range r.vcs {
			if v > r.view && (!r.changing || v > r.target) {
				for from := range byFrom {
					if w, ok := above[from]; !ok || v < w {
						above[from] = v
					}
				}
			}
		}
		if len(above) >= r.f+1 {
			lo := uint64(0)
			for _, v := range above {
				if lo == 0 || v < lo {
					lo = v
				}
			}
			out = append(out, r.startViewChange(lo)...)
		}
	}
	v := m.View
	if r.primary(v) == r.cfg.ID && !r.sentNV[v] && len(r.vcs[v]) >= 2*r.f+1 && v > r.view {
		if _, mine := r.vcs[v][r.cfg.ID]; mine {
			out = append(out, r.sendNewView(v)...)
		}
	}
	return out
}

// newViewOrder computes, from 2f+1 view changes, the stable checkpoint
// the new view starts from and the pre-prepares (unsigned) it must
// re-propose: for every number above it, the request prepared in the
// highest view, or a null request.
func (r *Replica) newViewOrder(v uint64, vcs []Msg) (minS uint64, proof []Msg, pps []Msg) {
	maxS := uint64(0)
	best := map[uint64]Msg{}
	for _, vc := range vcs {
		if vc.Seq > minS || proof == nil && vc.Seq == minS {
			minS, proof = vc.Seq, vc.Proof
		}
		for _, c := range vc.Prepared {
			pp := c.PrePrepare
			if b, ok := best[pp.Seq]; !ok || pp.View > b.View {
				best[pp.Seq] = pp
			}
			if pp.Seq > maxS {
				maxS = pp.Seq
			}
		}
	}
	for s := minS + 1; s <= maxS; s++ {
		pp := Msg{Kind: KindPrePrepare, View: v, Seq: s, Digest: nullDigest}
		if b, ok := best[s]; ok {
			pp.Digest, pp.Req = b.Digest, b.Req
		}
		pps = append(pps, pp)
	}
	return minS, proof, pps
}

func (r *Replica) sendNewView(v uint64) []Out {
	r.sentNV[v] = true
	ids := make([]string, 0, len(r.vcs[v]))
	for id := range r.vcs[v] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	vcs := []Msg{r.vcs[v][r.cfg.ID]}
	for _, id := range ids {
		if id != r.cfg.ID && len(vcs) < 2*r.f+1 {
			vcs = append(vcs, r.vcs[v][id])
		}
	}
	minS, proof, pps := r.newViewOrder(v, vcs)
	for i := range pps {
		pps[i] = r.sign(pps[i])
	}
	nv := r.sign(Msg{Kind: KindNewView, View: v, Proof: vcs, PrePrepares: pps})
	return append([]Out{{M: nv}}, r.enterView(v, minS, proof, pps)...)
}

func (r *Replica) onNewView(m Msg) []Out {
	if m.View <= r.view {
		return nil
	}
	if m.From != r.primary(m.View) {
		return r.reject("new view not from its primary")
	}
	seen := map[string]bool{}
	for _, vc := range m.Proof {
		if vc.View != m.View || seen[vc.From] || !r.validViewChange(vc) {
			return r.reject("invalid new view")
		}
		seen[vc.From] = true
	}
	if len(seen) < 2*r.f+1 {
		return r.reject("invalid new view")
	}
	minS, proof, want := r.newViewOrder(m.View, m.Proof)
	if len(want) != len(m.PrePrepares) {
		return r.reject("new view's pre-prepares do not follow from its proof")
	}
	for i, pp := range m.PrePrepares {
		if pp.Seq != want[i].Seq || pp.Digest != want[i].Digest || pp.View != m.View || !r.validPrePrepare(pp) {
			return r.reject("new view's pre-prepares do not follow from its proof")
		}
	}
	return r.enterView(m.View, minS, proof, m.PrePrepares)
}

// enterView starts view v from the new view's checkpoint and
// pre-prepares: a backup prepares each of them.
func (r *Replica) enterView(v, minS uint64, proof []Msg, pps []Msg) []Out {
	var out []Out
	if minS > r.h && proof != nil {
		out = append(out, r.stabilize(proof)...)
	}
	r.view, r.changing = v, false
	r.stats.ViewChanges++
	for w := range r.vcs {
		if w <= v {
			delete(r.vcs, w)
		}
	}
	r.log = map[uint64]*entry{}
	r.assigned = map[string]bool{}
	r.seqNext = r.h
	for p := range r.pending {
		q := r.pending[p]
		q.since = r.ticks
		r.pending[p] = q
	}
	isPrimary := r.primary(v) == r.cfg.ID
	for _, pp := range pps {
		if pp.Seq > r.seqNext {
			r.seqNext = pp.Seq
		}
		if pp.Seq <= r.h {
			continue
		}
		pp := pp
		e := r.entry(pp.Seq)
		e.pp = &pp
		if pp.Req != nil {
			r.assigned[pp.Digest] = true
		}
		if !isPrimary {
			p := r.sign(Msg{Kind: KindPrepare, View: v, Seq: pp.Seq, Digest: pp.Digest})
			e.prepares[r.cfg.ID] = p
			out = append(out, Out{M: p})
		}
	}
	for _, pp := range pps {
		out = append(out, r.check(pp.Seq)...)
	}
	out = append(out, r.replayEarly()...)
	return append(out, r.assignPending()...)
}
