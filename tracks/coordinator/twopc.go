package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/wal"
)

// twoPC is a bank node speaking two-phase commit. Every node is a
// participant for the accounts it owns (account a lives on node a mod n)
// and the coordinator of the transfers and reads its clients send it.
//
// A transfer, at its coordinator:
//  1. prepare: each participant locks the accounts, checks the funds,
//     logs "prepare" durably and votes yes; or votes no (conflict,
//     insufficient funds). No vote in time counts as no.
//  2. decide: all yes, the coordinator logs "decide commit" durably and
//     only then answers the client and tells the participants; otherwise
//     it aborts (nothing to log: a coordinator that knows nothing of a
//     transaction answers "abort", the presumed-abort rule).
//  3. The decision is re-sent until every participant acknowledges it.
//
// A participant that voted yes may no longer decide alone: the others may
// have voted either way and the coordinator may have committed. It keeps
// the accounts locked and asks the coordinator until it learns the
// outcome; while the coordinator is down, it waits (2PC blocks). A node
// that restarts replays its log: prepared transactions lock their
// accounts again, decided ones are re-sent.
//
// A read locks every account shared at every participant and reads it,
// then asks every participant whether it still holds its locks
// (validation) and releases them: if none lost one to a transfer, no
// transfer committed inside the read, which is then a consistent cut.
// Transfers never wait for reads (see accounts); reads fail instead.
type twoPC struct {
	n *node.Node
	o Options

	mu      sync.Mutex
	acc     *accounts
	opened  bool
	log     *wal.Log // nil without a data directory
	failed  error
	nonce   int64
	readSeq uint64
	// Participant.
	prepared map[string]*preparedTx
	finished map[string]bool // decided here: commit?
	// Coordinator.
	active      map[string]bool            // collecting votes
	decided     map[string]bool            // commit?
	undelivered map[string]map[string]bool // decision not yet acknowledged, by participant
	// Sagas.
	cancelled map[int64]bool // compensated before the step arrived
	queue     map[pending]bool
}

type preparedTx struct {
	coord string
	ops   []ledgerOp
	parts []string // every participant of the transaction (3PC's termination asks them)
	pre   bool     // 3PC: precommitted
	// terminating (3PC): this participant is deciding the transaction
	// itself; it refuses a pre-commit from now on, so that its own state
	// cannot change under its decision.
	terminating bool
	since       time.Time
	// asking is set while a status query is out.
	asking bool
}

// record is one entry of a node's transaction log.
type record struct {
	Kind     string     `json:"k"` // open, prepare, commit, abort, decide, delivered
	Tx       string     `json:"tx,omitempty"`
	Coord    string     `json:"coord,omitempty"`
	Ops      []ledgerOp `json:"ops,omitempty"`
	Commit   bool       `json:"commit,omitempty"`
	Parts    []string   `json:"parts,omitempty"`
	Accounts []int64    `json:"accounts,omitempty"`
	Balance  int64      `json:"balance,omitempty"`
}

func setupTwoPC(n *node.Node, o Options) {
	t := &twoPC{n: n, o: o, acc: newAccounts(), prepared: map[string]*preparedTx{}, finished: map[string]bool{},
		active: map[string]bool{}, decided: map[string]bool{}, undelivered: map[string]map[string]bool{},
		cancelled: map[int64]bool{}, queue: map[pending]bool{}}
	n.OnInit(t.recover)
	context.AfterFunc(n.Context(), func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.log != nil {
			_ = t.log.Close()
			t.log = nil
		}
		t.failed = errors.New("node stopped")
	})
	node.HandleTyped(n, "init_bank", t.initBank)
	node.HandleTyped(n, "transfer", t.transfer)
	node.HandleTyped(n, "read", t.read)
	node.HandleTyped(n, "tpc_prepare", t.handlePrepare)
	node.HandleTyped(n, "tpc_decide", t.handleDecide)
	node.HandleTyped(n, "tpc_status", t.handleStatus)
	node.HandleTyped(n, "tpc_read", t.handleRead)
	node.HandleTyped(n, "tpc_validate", t.handleValidate)
	node.HandleTyped(n, "tpc_precommit", t.handlePrecommit)
	node.HandleTyped(n, "tpc_state", t.handleState)
	node.HandleTyped(n, "saga_step", t.handleSagaStep)
	node.HandleTyped(n, "saga_undo", t.handleSagaUndo)
	n.Every(100*time.Millisecond, t.tick)
}

// owner is the node that holds account a.
func (t *twoPC) owner(a int64) string {
	ids := t.n.NodeIDs()
	return ids[int(a%int64(len(ids)))]
}

func (t *twoPC) recover() error {
	t.nonce = t.n.Clock().Now().UnixNano()
	dir := t.n.DataDir()
	if dir == "" {
		return nil
	}
	log, err := wal.Open(t.n.Storage(), filepath.Join(dir, "txlog"), wal.Options{Sync: wal.SyncNone})
	if err != nil {
		return fmt.Errorf("coordinator: open the transaction log: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.n.Clock().Now()
	err = log.Iterate(log.FirstIndex(), func(_ uint64, b []byte) error {
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		switch r.Kind {
		case "open":
			t.acc.open(r.Accounts, r.Balance)
			t.opened = true
		case "precommit":
			if p := t.prepared[r.Tx]; p != nil {
				p.pre = true
			}
		case "prepare":
			t.prepared[r.Tx] = &preparedTx{coord: r.Coord, ops: r.Ops, parts: r.Parts, since: now}
			for _, op := range r.Ops {
				t.acc.xlock[op.Account] = r.Tx
			}
		case "commit", "abort":
			if p := t.prepared[r.Tx]; p != nil {
				if r.Kind == "commit" {
					t.acc.apply(p.ops)
				}
				t.acc.unlockX(r.Tx)
				delete(t.prepared, r.Tx)
			}
			t.finished[r.Tx] = r.Kind == "commit"
		case "decide":
			t.decided[r.Tx] = r.Commit
			t.undelivered[r.Tx] = setOf(r.Parts)
		case "delivered":
			delete(t.undelivered, r.Tx)
		case "step":
			_ = t.acc.step(r.Ops[0], t.cancelled)
		case "undo":
			t.acc.undo(r.Ops[0], t.cancelled)
		case "queue":
			t.queue[pending{Part: r.Parts[0], Op: r.Ops[0], Undo: r.Commit}] = true
		case "dequeue":
			delete(t.queue, pending{Part: r.Parts[0], Op: r.Ops[0], Undo: r.Commit})
		}
		return nil
	})
	if err != nil {
		_ = log.Close()
		return fmt.Errorf("coordinator: replay the transaction log: %w", err)
	}
	if len(t.prepared) > 0 {
		t.n.Logger().Info("recovered prepared transactions; asking their coordinators", "count", len(t.prepared))
	}
	t.log = log
	return nil
}

func setOf(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// write appends r to the log; durable makes it survive a crash before
// write returns. It requires t.mu (the log's order is the state's order);
// it returns a function to call after unlocking that waits for the fsync.
func (t *twoPC) write(r record, durable bool) (wait func() error) {
	if t.log == nil {
		return func() error { return t.failed }
	}
	b, _ := json.Marshal(r)
	if _, err := t.log.Append(b); err != nil {
		t.failed = err
		return func() error { return err }
	}
	if !durable {
		return func() error { return nil }
	}
	log := t.log
	return func() error { return log.Sync() }
}

type initBankRequest struct {
	Accounts []int64 `json:"accounts"`
	Balance  int64   `json:"balance"`
}

func (t *twoPC) initBank(_ node.Message, req initBankRequest) (any, error) {
	var mine []int64
	for _, a := range req.Accounts {
		if t.owner(a) == t.n.ID() {
			mine = append(mine, a)
		}
	}
	t.mu.Lock()
	var wait func() error = func() error { return nil }
	if !t.opened {
		t.acc.open(mine, req.Balance)
		t.opened = true
		wait = t.write(record{Kind: "open", Accounts: mine, Balance: req.Balance}, true)
	}
	t.mu.Unlock()
	if err := wait(); err != nil {
		return nil, node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	return node.MessageBody{Type: "init_bank_ok"}, nil
}

type transferRequest struct {
	ID     int64 `json:"id"`
	From   int64 `json:"from"`
	To     int64 `json:"to"`
	Amount int64 `json:"amount"`
}

type prepareBody struct {
	Type  string     `json:"type"`
	Tx    string     `json:"tx"`
	Coord string     `json:"coord"`
	Ops   []ledgerOp `json:"ops"`
	Parts []string   `json:"parts"`
}

type decideBody struct {
	Type   string `json:"type"`
	Tx     string `json:"tx"`
	Commit bool   `json:"commit"`
}

func (t *twoPC) transfer(_ node.Message, req transferRequest) (any, error) {
	if req.Amount <= 0 || req.From == req.To {
		return nil, node.NewRPCError(node.MalformedRequest, "a transfer moves a positive amount between two accounts")
	}
	if t.o.Protocol == "saga" {
		return t.sagaTransfer(req)
	}
	tx := fmt.Sprintf("t%d", req.ID)
	byPart := map[string][]ledgerOp{}
	byPart[t.owner(req.From)] = append(byPart[t.owner(req.From)], ledgerOp{Account: req.From, Delta: -req.Amount, Entry: req.ID})
	byPart[t.owner(req.To)] = append(byPart[t.owner(req.To)], ledgerOp{Account: req.To, Delta: req.Amount, Entry: req.ID})
	parts := slices.Sorted(maps.Keys(byPart))

	t.mu.Lock()
	if t.failed != nil {
		t.mu.Unlock()
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "node is stopping")
	}
	t.active[tx] = true
	t.mu.Unlock()

	// Phase 1: votes, in parallel.
	ctx, cancel := context.WithTimeout(t.n.Context(), t.o.PrepareTimeout)
	defer cancel()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := prepareBody{Type: "tpc_prepare", Tx: tx, Coord: t.n.ID(), Ops: byPart[p], Parts: parts}
			if p == t.n.ID() {
				errs[i] = t.prepare(body)
				return
			}
			_, errs[i] = node.Call[node.MessageBody](ctx, t.n, p, body)
		}()
	}
	wg.Wait()
	commit := true
	var why error
	for _, err := range errs {
		if err != nil {
			commit = false
			if why == nil || node.ErrorCode(err) == node.Abort {
				why = err
			}
		}
	}

	if commit && t.o.Protocol == "3pc" && !t.precommit(tx, parts) {
		// Some participant did not acknowledge the pre-commit: the
		// participants' termination protocol decides, not us.
		t.mu.Lock()
		delete(t.active, tx)
		t.mu.Unlock()
		return nil, node.NewRPCError(node.Crash, fmt.Sprintf("transfer %d: pre-commit not acknowledged by every participant; they decide", req.ID))
	}

	// Phase 2: the decision, durable before anyone hears of it.
	t.mu.Lock()
	wait := func() error { return nil }
	if commit {
		wait = t.write(record{Kind: "decide", Tx: tx, Commit: true, Parts: parts}, true)
	}
	t.decided[tx] = commit
	delete(t.active, tx)
	t.undelivered[tx] = setOf(parts)
	t.mu.Unlock()
	if err := wait(); err != nil {
		// The decision may or may not be on disk: the client cannot know.
		return nil, node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	t.deliver(tx, commit)
	if commit {
		return node.MessageBody{Type: "transfer_ok"}, nil
	}
	code := node.ErrorCode(why)
	if code != node.Abort {
		code = node.TxnConflict
	}
	return nil, node.NewRPCError(code, fmt.Sprintf("transfer %d aborted: %v", req.ID, why))
}

// deliver sends tx's decision to the participants that have not
// acknowledged it; tick calls it again until they all have.
func (t *twoPC) deliver(tx string, commit bool) {
	t.mu.Lock()
	var parts []string
	for p := range t.undelivered[tx] {
		parts = append(parts, p)
	}
	t.mu.Unlock()
	for _, p := range parts {
		body := decideBody{Type: "tpc_decide", Tx: tx, Commit: commit}
		if p == t.n.ID() {
			t.decide(tx, commit, "coordinator")
			t.acked(tx, p)
			continue
		}
		_ = t.n.RPC(p, body, func(node.Message) error {
			t.acked(tx, p)
			return nil
		})
	}
}

func (t *twoPC) acked(tx, p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.undelivered[tx]
	if u == nil {
		return
	}
	delete(u, p)
	if len(u) == 0 {
		delete(t.undelivered, tx)
		if t.decided[tx] {
			t.write(record{Kind: "delivered", Tx: tx}, false)
		}
	}
}

// prepare is a participant's vote: nil is yes.
func (t *twoPC) prepare(b prepareBody) error {
	t.mu.Lock()
	if t.failed != nil || !t.opened {
		t.mu.Unlock()
		return node.NewRPCError(node.TemporarilyUnavailable, "participant not ready")
	}
	if _, ok := t.prepared[b.Tx]; ok {
		t.mu.Unlock()
		return nil // a repeated prepare: same vote
	}
	if _, ok := t.finished[b.Tx]; ok {
		t.mu.Unlock()
		return node.NewRPCError(node.Abort, b.Tx+" is already decided")
	}
	if err := t.acc.lockX(b.Tx, b.Ops, t.n.Clock().Now()); err != nil {
		t.mu.Unlock()
		return err
	}
	t.prepared[b.Tx] = &preparedTx{coord: b.Coord, ops: b.Ops, parts: b.Parts, since: t.n.Clock().Now()}
	wait := t.write(record{Kind: "prepare", Tx: b.Tx, Coord: b.Coord, Ops: b.Ops, Parts: b.Parts}, true)
	t.mu.Unlock()
	if err := wait(); err != nil {
		return node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	return nil
}

func (t *twoPC) handlePrepare(_ node.Message, b prepareBody) (any, error) {
	if err := t.prepare(b); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "tpc_prepare_ok"}, nil
}

// decide applies a decision at a participant; by says who made it known.
func (t *twoPC) decide(tx string, commit bool, by string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.prepared[tx]
	if p == nil {
		return // never prepared here, or already decided
	}
	if commit {
		t.acc.apply(p.ops)
		t.write(record{Kind: "commit", Tx: tx}, false)
	} else {
		t.write(record{Kind: "abort", Tx: tx}, false)
	}
	t.acc.unlockX(tx)
	delete(t.prepared, tx)
	t.finished[tx] = commit
	// Waits long enough to have needed asking are logged: the blocking
	// the lesson measures (the prepare timeout shows as about 1 s).
	if held := t.n.Clock().Now().Sub(p.since); held >= t.o.AskAfter {
		t.n.Logger().Info("prepared transaction was blocked", "tx", tx, "held", held.Round(time.Millisecond).String(), "commit", commit, "decided_by", by)
	}
}

func (t *twoPC) handleDecide(_ node.Message, b decideBody) (any, error) {
	t.decide(b.Tx, b.Commit, "coordinator")
	return node.MessageBody{Type: "tpc_decide_ok"}, nil
}

type statusBody struct {
	Type string `json:"type"`
	Tx   string `json:"tx"`
}

type statusOK struct {
	Type    string `json:"type"`
	Outcome string `json:"outcome"` // commit, abort or pending
}

// status is the coordinator's answer about tx.
func (t *twoPC) status(tx string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.decided[tx]; ok {
		return map[bool]string{true: "commit", false: "abort"}[c]
	}
	if t.active[tx] {
		return "pending"
	}
	// Presumed abort: this coordinator has no record of deciding tx (it
	// crashed before it logged a decision), so tx never committed, and it
	// never will now.
	t.decided[tx] = false
	return "abort"
}

func (t *twoPC) handleStatus(_ node.Message, b statusBody) (any, error) {
	t.mu.Lock()
	failed := t.failed
	t.mu.Unlock()
	if failed != nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "recovering")
	}
	return statusOK{Type: "tpc_status_ok", Outcome: t.status(b.Tx)}, nil
}

// tick re-sends undelivered decisions and makes prepared participants ask
// for theirs (or, in the counter-example, give up waiting and commit).
func (t *twoPC) tick(context.Context) {
	now := t.n.Clock().Now()
	t.mu.Lock()
	if t.failed != nil {
		t.mu.Unlock()
		return
	}
	resend := map[string]bool{}
	for tx := range t.undelivered {
		resend[tx] = t.decided[tx]
	}
	type ask struct{ tx, coord string }
	var asks []ask
	var timedOut []string
	for tx, p := range t.prepared {
		waited := now.Sub(p.since)
		if t.o.CommitOnTimeout > 0 && waited >= t.o.CommitOnTimeout {
			timedOut = append(timedOut, tx)
			continue
		}
		if waited >= t.o.AskAfter && !p.asking {
			p.asking = true
			asks = append(asks, ask{tx, p.coord})
		}
	}
	t.mu.Unlock()
	for tx, c := range resend {
		t.deliver(tx, c)
	}
	t.sendQueued()
	for _, tx := range timedOut {
		// The counter-example: waiting is not knowing, and the coordinator
		// may well have decided abort.
		t.decide(tx, true, "timeout")
	}
	for _, a := range asks {
		if t.o.Protocol == "3pc" {
			go t.terminate(a.tx)
		} else {
			go t.ask(a.tx, a.coord)
		}
	}
}

// ask learns tx's outcome from its coordinator.
func (t *twoPC) ask(tx, coord string) {
	defer func() {
		t.mu.Lock()
		if p := t.prepared[tx]; p != nil {
			p.asking = false
		}
		t.mu.Unlock()
	}()
	var outcome string
	if coord == t.n.ID() {
		outcome = t.status(tx)
	} else {
		ctx, cancel := context.WithTimeout(t.n.Context(), 500*time.Millisecond)
		defer cancel()
		resp, err := node.Call[statusOK](ctx, t.n, coord, statusBody{Type: "tpc_status", Tx: tx})
		if err != nil {
			return
		}
		outcome = resp.Outcome
	}
	if outcome == "commit" || outcome == "abort" {
		t.decide(tx, outcome == "commit", "asking "+coord)
	}
}

type readLockBody struct {
	Type string `json:"type"`
	Read string `json:"read"`
}

type readLockOK struct {
	Type     string             `json:"type"`
	Balances map[string]int64   `json:"balances"`
	Ledgers  map[string][]int64 `json:"ledgers"`
}

type readOK struct {
	Type     string             `json:"type"`
	Balances map[string]int64   `json:"balances"`
	Ledgers  map[string][]int64 `json:"ledgers"`
}

func (t *twoPC) readLock(r string) (readLockOK, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil || !t.opened {
		return readLockOK{}, node.NewRPCError(node.TemporarilyUnavailable, "participant not ready")
	}
	now := t.n.Clock().Now()
	t.acc.unlockS("", now) // drop expired leases
	bs, ls, err := t.acc.lockS(r, now.Add(t.o.ReadLease))
	if err != nil {
		return readLockOK{}, err
	}
	return readLockOK{Type: "tpc_read_ok", Balances: bs, Ledgers: ls}, nil
}

func (t *twoPC) handleRead(_ node.Message, b readLockBody) (any, error) {
	return t.readLock(b.Read)
}

type validateOK struct {
	Type  string `json:"type"`
	Valid bool   `json:"valid"`
}

func (t *twoPC) validate(r string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acc.validateS(r, t.n.Clock().Now())
}

func (t *twoPC) handleValidate(_ node.Message, b readLockBody) (any, error) {
	return validateOK{Type: "tpc_validate_ok", Valid: t.validate(b.Read)}, nil
}

// read gathers every participant's accounts under shared locks.
func (t *twoPC) read(node.Message, struct{}) (any, error) {
	t.mu.Lock()
	t.readSeq++
	r := fmt.Sprintf("r%d.%d@%s", t.nonce, t.readSeq, t.n.ID())
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.n.Context(), min(t.o.ReadLease/2, t.o.PrepareTimeout))
	defer cancel()
	ids := t.n.NodeIDs()
	res := make([]readLockOK, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, p := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == t.n.ID() {
				res[i], errs[i] = t.readLock(r)
				return
			}
			res[i], errs[i] = node.Call[readLockOK](ctx, t.n, p, readLockBody{Type: "tpc_read", Read: r})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.releaseRead(r, ids)
			return nil, node.NewRPCError(node.TxnConflict, "read: "+err.Error())
		}
	}
	// Validation: did every participant keep our locks throughout? Then
	// no transfer committed at any of them while we read, and the shares
	// form one consistent cut.
	valid := make([]bool, len(ids))
	for i, p := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == t.n.ID() {
				valid[i] = t.validate(r)
				return
			}
			resp, err := node.Call[validateOK](ctx, t.n, p, readLockBody{Type: "tpc_validate", Read: r})
			valid[i] = err == nil && resp.Valid
		}()
	}
	wg.Wait()
	for i, ok := range valid {
		if !ok {
			return nil, node.NewRPCError(node.TxnConflict, "read: a transfer took "+ids[i]+"'s accounts before the read was complete")
		}
	}
	out := readOK{Type: "read_ok", Balances: map[string]int64{}, Ledgers: map[string][]int64{}}
	for _, r := range res {
		for k, v := range r.Balances {
			out.Balances[k] = v
		}
		for k, v := range r.Ledgers {
			out.Ledgers[k] = v
		}
	}
	return out, nil
}

// releaseRead drops a failed read's locks (best effort: the leases end
// them anyway).
func (t *twoPC) releaseRead(r string, ids []string) {
	for _, p := range ids {
		if p == t.n.ID() {
			t.validate(r)
			continue
		}
		_ = t.n.RPC(p, readLockBody{Type: "tpc_validate", Read: r}, func(node.Message) error { return nil })
	}
}
