package coordinator

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

func TestLocksRefuseConflictsAndOverdrafts(t *testing.T) {
	now := time.Unix(0, 0)
	s := newAccounts()
	s.open([]int64{0, 3}, 10)
	if err := s.lockX("t1", []ledgerOp{{Account: 0, Delta: -4, Entry: 1}}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.lockX("t2", []ledgerOp{{Account: 0, Delta: 1, Entry: 2}}, now); node.ErrorCode(err) != node.TxnConflict {
		t.Fatalf("second transfer on a locked account: %v, want txn-conflict", err)
	}
	if err := s.lockX("t3", []ledgerOp{{Account: 3, Delta: -11, Entry: 3}}, now); node.ErrorCode(err) != node.Abort {
		t.Fatalf("overdraft: %v, want abort", err)
	}
	if _, _, err := s.lockS("r1", now.Add(time.Second)); node.ErrorCode(err) != node.TxnConflict {
		t.Fatalf("read over a prepared transfer: %v, want txn-conflict", err)
	}
	s.apply([]ledgerOp{{Account: 0, Delta: -4, Entry: 1}})
	s.apply([]ledgerOp{{Account: 0, Delta: -4, Entry: 1}}) // a repeated decision
	s.unlockX("t1")
	if s.balances[0] != 6 || len(s.ledgers[0]) != 1 {
		t.Fatalf("after one commit applied twice: balance %d ledger %v, want 6 [1]", s.balances[0], s.ledgers[0])
	}
}

// A transfer takes its accounts from a read; the read finds out when it
// validates.
func TestReadsLoseTheirLocksToTransfers(t *testing.T) {
	now := time.Unix(0, 0)
	s := newAccounts()
	s.open([]int64{0, 3}, 10)
	if _, _, err := s.lockS("r1", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.lockS("r2", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if !s.validateS("r2", now) {
		t.Fatal("an undisturbed read failed validation")
	}
	if err := s.lockX("t1", []ledgerOp{{Account: 3, Delta: 2, Entry: 1}}, now); err != nil {
		t.Fatalf("a transfer waited for (or was refused by) a read: %v", err)
	}
	if s.validateS("r1", now) {
		t.Fatal("a read whose account a transfer took passed validation")
	}
	if _, _, err := s.lockS("r3", now.Add(time.Second)); err == nil {
		t.Fatal("a read got an account a transfer holds")
	}
	s.unlockX("t1")
	if _, _, err := s.lockS("r4", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if s.validateS("r4", now.Add(2*time.Second)) {
		t.Fatal("a read whose lease ran out passed validation")
	}
}

// Saga steps and their compensations are idempotent, and a compensation
// that overtakes its step cancels it.
func TestSagaStepsAndUndos(t *testing.T) {
	s := newAccounts()
	s.open([]int64{0, 1}, 10)
	cancelled := map[int64]bool{}
	debit := ledgerOp{Account: 0, Delta: -3, Entry: 7}
	for range 2 {
		if err := s.step(debit, cancelled); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		s.undo(debit, cancelled)
	}
	if s.balances[0] != 10 || len(s.ledgers[0]) != 2 {
		t.Fatalf("debit twice, undo twice: balance %d ledger %v, want 10 [7 -7]", s.balances[0], s.ledgers[0])
	}
	credit := ledgerOp{Account: 1, Delta: 3, Entry: 8}
	s.undo(credit, cancelled) // overtakes the step
	if err := s.step(credit, cancelled); node.ErrorCode(err) != node.Abort {
		t.Fatalf("a cancelled step ran: %v", err)
	}
	if s.balances[1] != 10 || len(s.ledgers[1]) != 0 {
		t.Fatalf("cancelled credit: balance %d ledger %v, want 10 []", s.balances[1], s.ledgers[1])
	}
	if err := s.step(ledgerOp{Account: 1, Delta: -11, Entry: 9}, cancelled); node.ErrorCode(err) != node.Abort {
		t.Fatalf("an overdrawing step ran: %v", err)
	}
}

func TestParseArgsRefusesUnknownProtocolsAndFlags(t *testing.T) {
	for _, args := range [][]string{{"--protocol", "4pc"}, {"--nope"}, {"extra"}} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	o, err := ParseArgs([]string{"--protocol", "2pc", "--commit-on-timeout", "200ms"})
	if err != nil || o.Protocol != "2pc" || o.CommitOnTimeout != 200*time.Millisecond {
		t.Fatalf("%+v, %v", o, err)
	}
}
