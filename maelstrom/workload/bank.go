package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// bank (ours, the coordinator track): money moves between accounts that
// live on different nodes, and reads see every account at once.
//
//	setup, once per node:
//	{"type":"init_bank","accounts":[0,1,...,A-1],"balance":B}
//	    -> {"type":"init_bank_ok"}
//	{"type":"transfer","id":ID,"from":F,"to":T,"amount":N}
//	    -> {"type":"transfer_ok"}
//	{"type":"read"}
//	    -> {"type":"read_ok","balances":{"0":B0,...},"ledgers":{"0":[ID,-ID,...],...}}
//
// Accounts are the integers 0..A-1 (--accounts), each opening with
// balance B (--opening-balance); on the wire they are JSON object keys,
// so decimal strings. ID is unique to the transfer. A transfer that would
// overdraw its source must fail (error 14 abort), as may one that
// conflicts with another (30 txn-conflict); both are definite, so the
// checker demands they left no trace. A read returns every account's
// balance and ledger: the ids of the transfers applied to the account and,
// negated, the transfers whose effect on it was compensated (undone).
//
// Account a lives on node a mod n (the n-th of init's node_ids, from 0):
// the generator picks a transfer's two accounts on different nodes (when
// there are at least 2n accounts), and the checker uses the ownership
// only to report how long accounts went without a transfer while their
// own node was up (blocked by other nodes' failures). Amounts are 1..10. The final phase (after the quiet
// period) reads three times per worker. History values:
// checker.BankTransfer and checker.BankRead; the check is checker.Bank,
// whose strictness --bank-check sets (serializable or saga).
func bankSpec() Spec {
	return Spec{Name: "bank", Description: "transfers between accounts on different nodes; reads of every balance",
		Final:    true,
		Reusable: true,
		Flags: []Flag{
			{Name: "accounts", Default: "8", Usage: "number of accounts (0..N-1)"},
			{Name: "opening-balance", Default: "100", Usage: "every account's balance before the first transfer"},
			{Name: "bank-check", Default: checker.BankSerializable,
				Usage: "what reads must show: serializable (every read a consistent cut) or saga (only reads once quiescent; the others' departures are counted)"},
		},
		New: func(p Params) (Instance, error) {
			accounts, err := p.FlagNumber("accounts", 2, 1000)
			if err != nil {
				return nil, err
			}
			opening, err := p.FlagNumber("opening-balance", 0, 1e12)
			if err != nil {
				return nil, err
			}
			mode := p.Flags["bank-check"]
			if mode != checker.BankSerializable && mode != checker.BankSaga {
				return nil, fmt.Errorf("--bank-check %q: want serializable or saga", mode)
			}
			return &bank{p: p, opts: checker.BankOptions{Accounts: int(accounts), Opening: int64(opening), Mode: mode, Nodes: p.NodeIDs}}, nil
		}}
}

func init() { Register(bankSpec) }

type bank struct {
	p      Params
	opts   checker.BankOptions
	nextID int64 // touched only by Next
}

func (w *bank) Setup(ctx context.Context, _ string, c Caller) error {
	accounts := make([]int, w.opts.Accounts)
	for i := range accounts {
		accounts[i] = i
	}
	raw, err := c.RPC(ctx, map[string]any{"type": "init_bank", "accounts": accounts, "balance": w.opts.Opening})
	if err != nil {
		return fmt.Errorf("init_bank: %w", err)
	}
	if _, err := Decode(raw, "init_bank_ok"); err != nil {
		return fmt.Errorf("init_bank: %w", err)
	}
	return nil
}

func (w *bank) Next(int, int) Invocation {
	r := w.p.Rand
	if r.IntN(2) == 0 {
		return Invocation{F: "read", Value: checker.BankRead{}}
	}
	n := int64(max(len(w.p.NodeIDs), 1))
	a := int64(w.opts.Accounts)
	from := r.Int64N(a)
	to := r.Int64N(a - 1)
	if to >= from {
		to++
	}
	// Prefer accounts on different owners when there are enough of them.
	if n > 1 && a >= 2*n {
		for to%n == from%n {
			to = r.Int64N(a)
		}
	}
	w.nextID++
	return Invocation{F: "transfer", Value: checker.BankTransfer{ID: w.nextID, From: from, To: to, Amount: 1 + r.Int64N(10)}}
}

func (w *bank) Final(int) []Invocation {
	return []Invocation{{F: "read", Value: checker.BankRead{}}, {F: "read", Value: checker.BankRead{}}, {F: "read", Value: checker.BankRead{}}}
}

func (w *bank) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	switch v := inv.Value.(type) {
	case checker.BankTransfer:
		raw, err := c.RPC(ctx, map[string]any{"type": "transfer", "id": v.ID, "from": v.From, "to": v.To, "amount": v.Amount})
		if err == nil {
			_, err = Decode(raw, "transfer_ok")
		}
		if err != nil {
			return Outcome(err, true, false)
		}
		return ok(v)
	case checker.BankRead:
		raw, err := c.RPC(ctx, map[string]any{"type": "read"})
		if err != nil {
			return Outcome(err, true, true)
		}
		m, err := Decode(raw, "read_ok", Field{Name: "balances"}, Field{Name: "ledgers"})
		if err != nil {
			return Outcome(err, true, true)
		}
		rd, err := decodeBankRead(m["balances"], m["ledgers"])
		if err != nil {
			return Outcome(err, true, true)
		}
		return ok(rd)
	}
	return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "bad-op", Text: fmt.Sprintf("unknown bank op %T", inv.Value)}}
}

func decodeBankRead(balances, ledgers json.RawMessage) (checker.BankRead, error) {
	var bs map[string]int64
	if err := json.Unmarshal(balances, &bs); err != nil {
		return checker.BankRead{}, &MalformedError{Reason: "balances must map account numbers to integers, got " + truncate(string(balances), 80)}
	}
	var ls map[string]json.RawMessage
	if err := json.Unmarshal(ledgers, &ls); err != nil {
		return checker.BankRead{}, &MalformedError{Reason: "ledgers must map account numbers to arrays of transfer ids, got " + truncate(string(ledgers), 80)}
	}
	rd := checker.BankRead{Balances: make(map[int64]int64, len(bs)), Ledgers: make(map[int64][]int64, len(ls))}
	for k, v := range bs {
		a, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return checker.BankRead{}, &MalformedError{Reason: fmt.Sprintf("balances key %q is not an account number", k)}
		}
		rd.Balances[a] = v
	}
	for k, v := range ls {
		a, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return checker.BankRead{}, &MalformedError{Reason: fmt.Sprintf("ledgers key %q is not an account number", k)}
		}
		ids, err := decodeInts(v, "ledger of account "+k)
		if err != nil {
			return checker.BankRead{}, err
		}
		rd.Ledgers[a] = ids
	}
	return rd, nil
}

func (w *bank) Check(h history.History) checker.Result { return checker.Bank(h, w.opts) }
