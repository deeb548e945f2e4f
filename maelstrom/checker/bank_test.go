package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// bankHistory builds a history from ops given in time order.
func bankHistory(ops ...history.Op) history.History {
	h := make(history.History, len(ops))
	for i, op := range ops {
		op.Index = i
		h[i] = op
	}
	return h
}

func transferOps(p int, at time.Duration, t BankTransfer, typ history.Type) []history.Op {
	return []history.Op{
		{Type: history.Invoke, Process: p, F: "transfer", Value: t, Time: at},
		{Type: typ, Process: p, F: "transfer", Value: t, Time: at + time.Millisecond},
	}
}

func TestBankBlockedCountsOnlyTimeTheOwnerWasUp(t *testing.T) {
	s := time.Second
	var ops []history.Op
	// Accounts 0 (n0), 1 (n1), 2 (n0), 3 (n1). n1 is down from 1 s to 5 s;
	// account 1 moves at 0.5 s and 5.5 s (down in between: not blocked);
	// account 0 moves at 0.5 s and 5.5 s too (its node was up: blocked 5 s).
	ops = append(ops, transferOps(0, s/2, BankTransfer{ID: 1, From: 0, To: 1, Amount: 1}, history.OK)...)
	ops = append(ops, history.Op{Type: history.Info, Process: -1, F: "kill", Value: []string{"n1"}, Time: s})
	ops = append(ops, transferOps(0, 2*s, BankTransfer{ID: 2, From: 2, To: 3, Amount: 1}, history.Fail)...)
	ops = append(ops, history.Op{Type: history.Info, Process: -1, F: "restart", Value: []string{"n1"}, Time: 5 * s})
	ops = append(ops, transferOps(0, 5*s+s/2, BankTransfer{ID: 3, From: 1, To: 0, Amount: 1}, history.OK)...)
	ops = append(ops, transferOps(0, 5*s+s/2, BankTransfer{ID: 4, From: 2, To: 3, Amount: 1}, history.OK)...)
	d := Bank(bankHistory(ops...), BankOptions{Accounts: 4, Opening: 10, Mode: BankSerializable, Nodes: []string{"n0", "n1"}}).Details.(BankDetails)
	got := map[int64]time.Duration{}
	for _, g := range d.Blocked {
		got[g.Account] = g.Gap
	}
	if got[0] < 5*s || got[1] > 600*time.Millisecond {
		t.Fatalf("blocked %v: want account 0 about 5 s (its node up throughout), account 1 at most 0.5 s (its node down)", d.Blocked)
	}
}

func TestBankSagaModeJudgesOnlyFinalReads(t *testing.T) {
	tr := BankTransfer{ID: 1, From: 0, To: 1, Amount: 4}
	half := BankRead{Balances: map[int64]int64{0: 6, 1: 10}, Ledgers: map[int64][]int64{0: {1}, 1: {}}}
	whole := BankRead{Balances: map[int64]int64{0: 6, 1: 14}, Ledgers: map[int64][]int64{0: {1}, 1: {1}}}
	read := func(p int, at time.Duration, r BankRead, final bool) []history.Op {
		return []history.Op{
			{Type: history.Invoke, Process: p, F: "read", Value: BankRead{}, Time: at, Final: final},
			{Type: history.OK, Process: p, F: "read", Value: r, Time: at + time.Millisecond, Final: final},
		}
	}
	ops := append([]history.Op{{Type: history.Invoke, Process: 0, F: "transfer", Value: tr, Time: 0}}, read(1, time.Millisecond, half, false)...)
	ops = append(ops, history.Op{Type: history.OK, Process: 0, F: "transfer", Value: tr, Time: 10 * time.Millisecond})
	h := bankHistory(append(ops, read(1, time.Second, whole, true)...)...)
	o := BankOptions{Accounts: 2, Opening: 10, Mode: BankSaga}
	res := Bank(h, o)
	if res.Valid != Valid {
		t.Fatalf("saga mode: %s", res.Summary)
	}
	if d := res.Details.(BankDetails); d.OffReads != 1 || d.MaxOff != 4 || d.TornReads != 1 {
		t.Fatalf("saga figures %+v: want one read off by 4, torn", d)
	}
	o.Mode = BankSerializable
	if res := Bank(h, o); res.Valid != Invalid || res.First().What != "total not conserved" {
		t.Fatalf("serializable mode: %s", res.Summary)
	}
	// A final read that still shows the transfer half done is invalid in
	// saga mode too.
	h = bankHistory(append(ops, read(1, time.Second, half, true)...)...)
	o.Mode = BankSaga
	if res := Bank(h, o); res.Valid != Invalid || res.First().What != "total not conserved" {
		t.Fatalf("saga mode, torn final read: %s", res.Summary)
	}
}
