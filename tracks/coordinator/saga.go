package coordinator

import (
	"context"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// A saga transfer is two local transactions, one per account, with no
// locks held in between: debit the source (refused if it would overdraw),
// then credit the target. The debit is the saga's pivot: before it,
// nothing has happened; after it, the saga only goes forward, because a
// credit can always be applied, while undoing one can fail (the money may
// have been spent already). So:
//
//   - a debit refused: the transfer aborts, nothing to undo;
//   - a debit unconfirmed (timeout): compensate it (refund it, or cancel it
//     should it still arrive) and abort;
//   - a debit done: the credit is queued durably and sent until it is
//     acknowledged, and the transfer is acknowledged.
//
// Queued steps and compensations are idempotent and re-sent until
// acknowledged, so the bank is consistent again once things are quiet; in
// between, a read can see the money in neither account (semantic
// atomicity, not isolation).

type sagaBody struct {
	Type string   `json:"type"`
	Op   ledgerOp `json:"op"`
}

// sagaStep asks a participant to apply (or, with undo, compensate) op.
func (t *twoPC) sagaStep(ctx context.Context, p string, op ledgerOp, undo bool) error {
	typ := "saga_step"
	if undo {
		typ = "saga_undo"
	}
	if p == t.n.ID() {
		return t.localStep(op, undo)
	}
	_, err := node.Call[node.MessageBody](ctx, t.n, p, sagaBody{Type: typ, Op: op})
	return err
}

func (t *twoPC) localStep(op ledgerOp, undo bool) error {
	t.mu.Lock()
	if t.failed != nil || !t.opened {
		t.mu.Unlock()
		return node.NewRPCError(node.TemporarilyUnavailable, "participant not ready")
	}
	var err error
	kind := "step"
	if undo {
		kind = "undo"
		t.acc.undo(op, t.cancelled)
	} else {
		err = t.acc.step(op, t.cancelled)
	}
	var wait func() error = func() error { return nil }
	if err == nil {
		wait = t.write(record{Kind: kind, Ops: []ledgerOp{op}}, true)
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if err := wait(); err != nil {
		return node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	return nil
}

func (t *twoPC) handleSagaStep(_ node.Message, b sagaBody) (any, error) {
	if err := t.localStep(b.Op, false); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "saga_step_ok"}, nil
}

func (t *twoPC) handleSagaUndo(_ node.Message, b sagaBody) (any, error) {
	if err := t.localStep(b.Op, true); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "saga_undo_ok"}, nil
}

// pending is a saga step (or, with undo, a compensation) still to be
// acknowledged.
type pending struct {
	Part string   `json:"part"`
	Op   ledgerOp `json:"op"`
	Undo bool     `json:"undo"`
}

// sagaTransfer runs one transfer as a saga.
func (t *twoPC) sagaTransfer(req transferRequest) (any, error) {
	debit := ledgerOp{Account: req.From, Delta: -req.Amount, Entry: req.ID}
	credit := ledgerOp{Account: req.To, Delta: req.Amount, Entry: req.ID}
	src, dst := t.owner(req.From), t.owner(req.To)
	ctx, cancel := context.WithTimeout(t.n.Context(), t.o.PrepareTimeout)
	defer cancel()
	if err := t.sagaStep(ctx, src, debit, false); err != nil {
		if code := node.ErrorCode(err); code >= 0 && node.IsDefinite(code) {
			return nil, node.NewRPCError(node.Abort, fmt.Sprintf("transfer %d: debit refused: %v", req.ID, err))
		}
		// The debit may have happened: compensate it.
		if err := t.enqueue(pending{Part: src, Op: debit, Undo: true}); err != nil {
			return nil, node.NewRPCError(node.Crash, fmt.Sprintf("transfer %d: debit unconfirmed and compensation not logged: %v", req.ID, err))
		}
		return nil, node.NewRPCError(node.TxnConflict, fmt.Sprintf("transfer %d: debit unconfirmed (%v); compensating", req.ID, err))
	}
	// Past the pivot: only forward.
	if err := t.sagaStep(ctx, dst, credit, false); err == nil {
		return node.MessageBody{Type: "transfer_ok"}, nil
	}
	if err := t.enqueue(pending{Part: dst, Op: credit}); err != nil {
		return nil, node.NewRPCError(node.Crash, fmt.Sprintf("transfer %d: credit not logged: %v", req.ID, err))
	}
	return node.MessageBody{Type: "transfer_ok"}, nil
}

// enqueue logs a step or compensation durably, then sends it; tick sends
// it again until it is acknowledged.
func (t *twoPC) enqueue(p pending) error {
	t.mu.Lock()
	t.queue[p] = true
	wait := t.write(record{Kind: "queue", Ops: []ledgerOp{p.Op}, Parts: []string{p.Part}, Commit: p.Undo}, true)
	t.mu.Unlock()
	if err := wait(); err != nil {
		return err
	}
	t.sendQueued()
	return nil
}

func (t *twoPC) sendQueued() {
	t.mu.Lock()
	var ps []pending
	for p := range t.queue {
		ps = append(ps, p)
	}
	t.mu.Unlock()
	for _, p := range ps {
		done := func() {
			t.mu.Lock()
			if t.queue[p] {
				delete(t.queue, p)
				t.write(record{Kind: "dequeue", Ops: []ledgerOp{p.Op}, Parts: []string{p.Part}, Commit: p.Undo}, false)
			}
			t.mu.Unlock()
		}
		if p.Part == t.n.ID() {
			if t.localStep(p.Op, p.Undo) == nil {
				done()
			}
			continue
		}
		typ := "saga_step"
		if p.Undo {
			typ = "saga_undo"
		}
		_ = t.n.RPC(p.Part, sagaBody{Type: typ, Op: p.Op}, func(m node.Message) error {
			if m.Type() == typ+"_ok" {
				done()
			}
			return nil
		})
	}
}
