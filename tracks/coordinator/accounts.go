package coordinator

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// ledgerOp is one transfer's (or compensation's) effect on one account:
// Delta is added to the balance and Entry appended to the ledger (the
// transfer's id, or minus it for a compensation).
type ledgerOp struct {
	Account int64 `json:"a"`
	Delta   int64 `json:"d"`
	Entry   int64 `json:"e"`
}

// accounts is one participant's share of the bank: the balances and
// ledgers of the accounts it owns and their locks. It does no I/O and
// reads no clock (callers pass now); callers hold their own lock.
//
// Locks are the two-phase-locking kind. A prepared transfer holds its
// accounts exclusively until the decision; a conflicting transfer is
// refused at once (no-wait, so no deadlock). A read holds every account
// shared while it gathers the other participants' shares, but a read must
// never make a transfer wait (a read stuck on a dead node would stall
// every account): a transfer takes its accounts from a read, and the read
// learns, when it validates its locks at the end, that it lost them and
// must fail. Read locks are also leases, so that a read whose coordinator
// died leaves nothing behind.
type accounts struct {
	balances map[int64]int64
	ledgers  map[int64][]int64
	xlock    map[int64]string               // account -> transaction
	slock    map[int64]map[string]time.Time // account -> read -> lease end
}

func newAccounts() *accounts {
	return &accounts{balances: map[int64]int64{}, ledgers: map[int64][]int64{},
		xlock: map[int64]string{}, slock: map[int64]map[string]time.Time{}}
}

// open creates the accounts at balance b.
func (s *accounts) open(ids []int64, b int64) {
	for _, a := range ids {
		if _, ok := s.balances[a]; !ok {
			s.balances[a], s.ledgers[a] = b, []int64{}
		}
	}
}

// lockX takes the exclusive locks of ops for tx if nothing else holds
// them and the balances can afford the debits; all or nothing.
func (s *accounts) lockX(tx string, ops []ledgerOp, now time.Time) error {
	sums := map[int64]int64{}
	for _, op := range ops {
		if _, ok := s.balances[op.Account]; !ok {
			return node.NewRPCError(node.Abort, fmt.Sprintf("account %d is not here", op.Account))
		}
		if h, ok := s.xlock[op.Account]; ok && h != tx {
			return node.NewRPCError(node.TxnConflict, fmt.Sprintf("account %d is locked by %s", op.Account, h))
		}
		sums[op.Account] += op.Delta
	}
	for a, d := range sums {
		if s.balances[a]+d < 0 {
			return node.NewRPCError(node.Abort, fmt.Sprintf("insufficient funds: account %d has %d", a, s.balances[a]))
		}
	}
	for _, op := range ops {
		s.xlock[op.Account] = tx
		// Reads holding it lose it; they will fail validation.
		delete(s.slock, op.Account)
	}
	return nil
}

// unlockX releases tx's exclusive locks.
func (s *accounts) unlockX(tx string) {
	for a, h := range s.xlock {
		if h == tx {
			delete(s.xlock, a)
		}
	}
}

// apply carries out ops; an entry already in its ledger is skipped, so
// applying twice (a retried decision, a replayed log) changes nothing.
func (s *accounts) apply(ops []ledgerOp) {
	for _, op := range ops {
		if slices.Contains(s.ledgers[op.Account], op.Entry) {
			continue
		}
		s.balances[op.Account] += op.Delta
		s.ledgers[op.Account] = append(s.ledgers[op.Account], op.Entry)
	}
}

// lockS takes every account shared for read r until end, unless a
// transfer holds one; it returns the balances and ledgers as seen.
func (s *accounts) lockS(r string, end time.Time) (map[string]int64, map[string][]int64, error) {
	if len(s.xlock) > 0 {
		a := slices.Min(slices.Collect(maps.Keys(s.xlock)))
		return nil, nil, node.NewRPCError(node.TxnConflict, fmt.Sprintf("account %d is locked by %s", a, s.xlock[a]))
	}
	bs, ls := map[string]int64{}, map[string][]int64{}
	for a, b := range s.balances {
		if s.slock[a] == nil {
			s.slock[a] = map[string]time.Time{}
		}
		s.slock[a][r] = end
		k := strconv.FormatInt(a, 10)
		bs[k], ls[k] = b, slices.Clone(s.ledgers[a])
	}
	return bs, ls, nil
}

// validateS reports whether read r still holds every account shared (no
// transfer took one, no lease ran out), and releases them.
func (s *accounts) validateS(r string, now time.Time) bool {
	ok := true
	for a := range s.balances {
		if end, held := s.slock[a][r]; !held || !now.Before(end) {
			ok = false
		}
	}
	s.unlockS(r, now)
	return ok
}

// unlockS releases read r's shared locks (and any whose lease ran out).
func (s *accounts) unlockS(r string, now time.Time) {
	for a, readers := range s.slock {
		for id, end := range readers {
			if id == r || !now.Before(end) {
				delete(readers, id)
			}
		}
		if len(readers) == 0 {
			delete(s.slock, a)
		}
	}
}

// step applies a saga step (one account's side of a transfer) at once,
// as its own local transaction: a debit that would overdraw is refused,
// a repeated step changes nothing, and a step whose compensation arrived
// first (the compensation overtook it) is refused for good.
func (s *accounts) step(op ledgerOp, cancelled map[int64]bool) error {
	if _, ok := s.balances[op.Account]; !ok {
		return node.NewRPCError(node.Abort, fmt.Sprintf("account %d is not here", op.Account))
	}
	if slices.Contains(s.ledgers[op.Account], op.Entry) {
		return nil
	}
	if cancelled[op.Entry] {
		return node.NewRPCError(node.Abort, fmt.Sprintf("transfer %d was compensated already", op.Entry))
	}
	if s.balances[op.Account]+op.Delta < 0 {
		return node.NewRPCError(node.Abort, fmt.Sprintf("insufficient funds: account %d has %d", op.Account, s.balances[op.Account]))
	}
	s.apply([]ledgerOp{op})
	return nil
}

// undo compensates a saga step: if the step took effect its effect is
// reversed (ledger entry minus the id), and if it did not, the id is
// cancelled so that the step, should it still arrive, is refused. Undoing
// twice changes nothing.
func (s *accounts) undo(op ledgerOp, cancelled map[int64]bool) {
	led := s.ledgers[op.Account]
	switch {
	case slices.Contains(led, -op.Entry):
	case slices.Contains(led, op.Entry):
		s.apply([]ledgerOp{{Account: op.Account, Delta: -op.Delta, Entry: -op.Entry}})
	default:
		cancelled[op.Entry] = true
	}
}
