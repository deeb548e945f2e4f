package maelstrom

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// bankFlaw selects how testBank breaks the bank workload's contract.
type bankFlaw int

const (
	bankCorrect    bankFlaw = iota
	bankOverdraft           // never refuses a transfer for lack of funds
	bankDouble              // applies every fifth transfer twice
	bankTornAbort           // an overdrawing transfer credits its target, then answers abort
	bankAckNoApply          // acknowledges every seventh transfer without applying it
	bankSagaLag             // debits at once, credits 300 ms later (a saga's visible middle)
)

// testBank is a single-node bank for the bank workload, with one optional
// flaw.
func testBank(flaw bankFlaw) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		bal := map[int64]int64{}
		led := map[int64][]int64{}
		type credit struct {
			due       time.Time
			to, id, n int64
		}
		var pending []credit
		seen := 0
		apply := func(a, id, delta int64) {
			bal[a] += delta
			led[a] = append(led[a], id)
		}
		return testnodes.Handlers{Every: 50 * time.Millisecond,
			Tick: func(*testnodes.Node) {
				keep := pending[:0]
				for _, c := range pending {
					if time.Now().Before(c.due) {
						keep = append(keep, c)
						continue
					}
					apply(c.to, c.id, c.n)
				}
				pending = keep
			},
			Handle: func(n *testnodes.Node, m testnodes.Msg) error {
				switch m.Type() {
				case "init_bank":
					var accounts []int64
					_ = json.Unmarshal(m.Body["accounts"], &accounts)
					for _, a := range accounts {
						bal[a], led[a] = m.Int("balance"), []int64{}
					}
					n.Reply(m, map[string]any{"type": "init_bank_ok"})
				case "transfer":
					seen++
					id, from, to, amt := m.Int("id"), m.Int("from"), m.Int("to"), m.Int("amount")
					if bal[from] < amt && flaw != bankOverdraft {
						if flaw == bankTornAbort {
							apply(to, id, amt)
						}
						n.Reply(m, map[string]any{"type": "error", "code": 14, "text": "insufficient funds"})
						return nil
					}
					switch {
					case flaw == bankAckNoApply && seen%7 == 0:
					case flaw == bankDouble && seen%5 == 0:
						apply(from, id, -amt)
						apply(to, id, amt)
						apply(from, id, -amt)
						apply(to, id, amt)
					case flaw == bankSagaLag:
						apply(from, id, -amt)
						pending = append(pending, credit{due: time.Now().Add(300 * time.Millisecond), to: to, id: id, n: amt})
					default:
						apply(from, id, -amt)
						apply(to, id, amt)
					}
					n.Reply(m, map[string]any{"type": "transfer_ok"})
				case "read":
					bs, ls := map[string]int64{}, map[string][]int64{}
					for a, b := range bal {
						k := strconv.FormatInt(a, 10)
						bs[k], ls[k] = b, append([]int64{}, led[a]...)
					}
					n.Reply(m, map[string]any{"type": "read_ok", "balances": bs, "ledgers": ls})
				}
				return nil
			}}
	})
}

func gradeBank(t *testing.T, flaw bankFlaw, args ...string) *Report {
	t.Helper()
	return grade(t, testBank(flaw), append([]string{"-w", "bank", "--node-count", "1", "--concurrency", "4",
		"--time-limit", "6", "--rate", "100", "--accounts", "4", "--opening-balance", "20"}, args...)...)
}

func bankDetails(t *testing.T, rep *Report) checker.BankDetails {
	t.Helper()
	res, ok := rep.Result("bank")
	if !ok {
		t.Fatalf("no bank checker result\n%s", rep.Summary())
	}
	return res.Details.(checker.BankDetails)
}

func TestBankCorrectNodeValid(t *testing.T) {
	rep := gradeBank(t, bankCorrect)
	wantVerdict(t, rep, checker.Valid, "every read consistent", "longest gap between ok reads")
	d := bankDetails(t, rep)
	// A small opening balance makes some transfers overdraw: they must be
	// refused, and are.
	if d.TransfersOK < 100 || d.TransfersAb == 0 || d.FinalReads == 0 {
		t.Fatalf("%+v: want many transfers, some aborted for lack of funds, and final reads\n%s", d, rep.Summary())
	}
}

func TestBankOverdraftCaught(t *testing.T) {
	rep := gradeBank(t, bankOverdraft)
	wantVerdict(t, rep, checker.Invalid, "first problem (bank): negative balance", "abort rather than overdraw", "node n0", "op ")
}

func TestBankDoubleApplyCaught(t *testing.T) {
	rep := gradeBank(t, bankDouble)
	wantVerdict(t, rep, checker.Invalid, "first problem (bank): applied twice", "lists", "twice")
}

func TestBankAbortedButAppliedCaught(t *testing.T) {
	rep := gradeBank(t, bankTornAbort)
	wantVerdict(t, rep, checker.Invalid, "first problem (bank): total not conserved", "torn transfer")
}

func TestBankAcknowledgedButMissingCaught(t *testing.T) {
	rep := gradeBank(t, bankAckNoApply)
	wantVerdict(t, rep, checker.Invalid, "first problem (bank): acknowledged transfer missing", "was acknowledged at")
}

func TestBankSagaVisibleMiddle(t *testing.T) {
	// A serializable bank must not show the debit without the credit.
	rep := gradeBank(t, bankSagaLag)
	wantVerdict(t, rep, checker.Invalid, "first problem (bank): total not conserved")
	// As a saga it is fine once quiescent; the checker counts how often and
	// how far the reads in between were off.
	rep = gradeBank(t, bankSagaLag, "--bank-check", "saga")
	wantVerdict(t, rep, checker.Valid, "intermediate reads off the total")
	if d := bankDetails(t, rep); d.OffReads == 0 || d.MaxOff == 0 || d.TornReads == 0 || d.FinalReads == 0 {
		t.Fatalf("%+v: want off and torn intermediate reads counted", d)
	}
}

func TestBankFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-w", "bank", "--bin", "x", "--bank-check", "eventual"},
		{"-w", "bank", "--bin", "x", "--accounts", "1"},
	} {
		opts, err := ParseArgs(args)
		if err == nil {
			_, err = Run(t.Context(), opts, InProcess{Program: testBank(bankCorrect)})
		}
		if err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
