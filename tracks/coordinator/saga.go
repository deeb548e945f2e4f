package coordinator

import (
	"context"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// A saga transfer is two local transactions, one per account, with no
// locks held in between: debit the source (refused if it would overdraw),
// then credit the target. If the credit cannot be confirmed in time, the
// saga compensates: it undoes the credit (or cancels it, if it never
// arrived) and refunds the debit. Compensations are idempotent and are
// re-sent until acknowledged, so the bank is consistent again once things
// are quiet; in between, a read can see the money in neither account
// (semantic atomicity, not isolation).

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

// compensation is an undo still to be acknowledged.
type compensation struct {
	part string
	op   ledgerOp
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
		t.compensate(compensation{src, debit})
		return nil, node.NewRPCError(node.TxnConflict, fmt.Sprintf("transfer %d: debit unconfirmed (%v); compensated", req.ID, err))
	}
	if err := t.sagaStep(ctx, dst, credit, false); err != nil {
		t.compensate(compensation{dst, credit}, compensation{src, debit})
		return nil, node.NewRPCError(node.TxnConflict, fmt.Sprintf("transfer %d: credit failed (%v); compensated", req.ID, err))
	}
	return node.MessageBody{Type: "transfer_ok"}, nil
}

// compensate queues undos; tick sends them until each is acknowledged.
func (t *twoPC) compensate(cs ...compensation) {
	t.mu.Lock()
	for _, c := range cs {
		t.comps[c] = true
	}
	t.mu.Unlock()
	t.sendCompensations()
}

func (t *twoPC) sendCompensations() {
	t.mu.Lock()
	var cs []compensation
	for c := range t.comps {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		done := func() {
			t.mu.Lock()
			delete(t.comps, c)
			t.mu.Unlock()
		}
		if c.part == t.n.ID() {
			if t.localStep(c.op, true) == nil {
				done()
			}
			continue
		}
		_ = t.n.RPC(c.part, sagaBody{Type: "saga_undo", Op: c.op}, func(m node.Message) error {
			if m.Type() == "saga_undo_ok" {
				done()
			}
			return nil
		})
	}
}
