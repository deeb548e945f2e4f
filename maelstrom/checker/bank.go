package checker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// The bank workload's history values (see maelstrom/workload/bank.go for
// the bodies on the wire).

// BankTransfer moves Amount from account From to account To; ID is unique
// to the transfer and is what the accounts' ledgers record.
type BankTransfer struct {
	ID     int64 `json:"id"`
	From   int64 `json:"from"`
	To     int64 `json:"to"`
	Amount int64 `json:"amount"`
}

// BankRead is a read of every account: each account's balance and its
// ledger, the transfers applied to it (a transfer's id) and the
// compensations of transfers undone (minus the id), in any order. The
// invocation's value is an empty BankRead.
type BankRead struct {
	Balances map[int64]int64   `json:"balances"`
	Ledgers  map[int64][]int64 `json:"ledgers"`
}

// Bank check modes.
const (
	// BankSerializable: every read is a consistent cut, so it sees the
	// conserved total, every transfer whole or not at all, and every
	// transfer acknowledged before it began.
	BankSerializable = "serializable"
	// BankSaga: intermediate reads may see a transfer half done (debited
	// but not yet credited, or compensated half way); only reads once the
	// system is quiescent (the final phase) must be consistent. How often
	// and how far the others were off is reported.
	BankSaga = "saga"
)

// BankOptions describe the bank the history ran against.
type BankOptions struct {
	Accounts int   // accounts 0 .. Accounts-1
	Opening  int64 // every account's opening balance
	Mode     string
	// Nodes are the node ids in init order; account a is taken to live on
	// Nodes[a mod len(Nodes)] (the bank's documented ownership), only to
	// tell an account whose node was down from one blocked by others.
	Nodes []string
}

// BankDetails are the bank checker's figures.
type BankDetails struct {
	Mode         string `json:"mode"`
	Total        int64  `json:"total"` // the conserved total
	TransfersOK  int    `json:"transfers_ok"`
	TransfersAb  int    `json:"transfers_aborted"`
	TransfersInf int    `json:"transfers_unknown"`
	Reads        int    `json:"reads"`
	FinalReads   int    `json:"final_reads"`
	// OffReads counts reads whose total differed from Total, MaxOff the
	// largest difference seen; TornReads counts reads that saw some
	// transfer applied to one account and not the other.
	OffReads  int   `json:"off_reads"`
	MaxOff    int64 `json:"max_off"`
	TornReads int   `json:"torn_reads"`
	// LongestReadGap is the longest stretch of the main phase with no
	// successful read (from the completion of one ok read to the next),
	// the time the bank was unreadable, e.g. while a participant sat
	// prepared waiting for a crashed coordinator.
	LongestReadGap     time.Duration `json:"longest_read_gap"`
	LongestReadGapFrom time.Duration `json:"longest_read_gap_from"`
	// AccountGaps gives, per account, the longest stretch of the main
	// phase in which no transfer touching it succeeded, longest first: an
	// account whose node is down, or that a prepared transaction holds
	// locked while its coordinator is away, stands out.
	AccountGaps []AccountGap `json:"account_gaps,omitempty"`
	// Blocked is the same, counting only time during which the account's
	// own node was up (not killed): how long other nodes' failures kept a
	// live account from moving, e.g. locked by a transaction prepared for
	// a coordinator that crashed. Longest first.
	Blocked []AccountGap `json:"blocked,omitempty"`
}

// AccountGap is an account's longest stretch without an ok transfer.
type AccountGap struct {
	Account int64         `json:"account"`
	Gap     time.Duration `json:"gap"`
	From    time.Duration `json:"from"`
}

func (d BankDetails) String() string {
	s := fmt.Sprintf("%d transfers ok, %d aborted, %d unknown; %d reads (%d final); longest gap between ok reads %s (from %.3fs)",
		d.TransfersOK, d.TransfersAb, d.TransfersInf, d.Reads, d.FinalReads,
		d.LongestReadGap.Round(time.Millisecond), d.LongestReadGapFrom.Seconds())
	if len(d.AccountGaps) > 0 {
		s += "; longest without an ok transfer:"
		sep := " "
		for _, g := range d.AccountGaps[:min(3, len(d.AccountGaps))] {
			s += fmt.Sprintf("%saccount %d %s (from %.3fs)", sep, g.Account, g.Gap.Round(time.Millisecond), g.From.Seconds())
			sep = ", "
		}
	}
	if len(d.Blocked) > 0 && d.Blocked[0].Gap != d.AccountGaps[0].Gap {
		g := d.Blocked[0]
		s += fmt.Sprintf("; longest with its node up: account %d %s (from %.3fs)", g.Account, g.Gap.Round(time.Millisecond), g.From.Seconds())
	}
	if d.Mode == BankSaga {
		s += fmt.Sprintf("; intermediate reads off the total %d of %d (by up to %d), torn %d", d.OffReads, d.Reads, d.MaxOff, d.TornReads)
	}
	return s
}

type bankTxn struct {
	t      BankTransfer
	inv    int // history index of the invocation
	done   int // history index of the completion, -1 if none
	status history.Type
	node   string
}

// Bank judges a bank history: every read's balances must match its
// ledgers (balance = opening + the amounts of the transfers listed, less
// the compensated ones), no balance may be negative, no transfer may be
// listed twice in one ledger, and no ledger may list a transfer not yet
// invoked. With BankSerializable every read must also see the conserved
// total, every transfer on both of its accounts or on neither, no aborted
// transfer, and every transfer acknowledged before the read began. With
// BankSaga those last checks apply to the final reads only, and the
// intermediate reads' departures are counted.
func Bank(h history.History, o BankOptions) Result {
	res := Result{Checker: "bank", Valid: Valid}
	d := BankDetails{Mode: o.Mode, Total: int64(o.Accounts) * o.Opening}
	txns := map[int64]*bankTxn{}
	var violations []Violation
	add := func(v Violation) {
		if len(violations) < 10 {
			violations = append(violations, v)
		}
	}
	counts := map[string]int{}
	type readPair struct {
		inv, done history.Op
	}
	var reads []readPair
	for _, p := range h.Pairs() {
		switch p.Invoke.F {
		case "transfer":
			t, ok := p.Invoke.Value.(BankTransfer)
			if !ok {
				continue
			}
			bt := &bankTxn{t: t, inv: p.Invoke.Index, done: -1, status: history.Info, node: p.Invoke.Node}
			if p.Completion != nil {
				bt.done, bt.status = p.Completion.Index, p.Completion.Type
			}
			txns[t.ID] = bt
			switch bt.status {
			case history.OK:
				d.TransfersOK++
			case history.Fail:
				d.TransfersAb++
			default:
				d.TransfersInf++
			}
		case "read":
			if p.Completion != nil && p.Completion.Type == history.OK {
				reads = append(reads, readPair{p.Invoke, *p.Completion})
			}
		}
	}
	// The longest stretch without an ok read, in the main phase.
	last := time.Duration(0)
	for _, r := range reads {
		if r.done.Final {
			continue
		}
		if gap := r.done.Time - last; gap > d.LongestReadGap {
			d.LongestReadGap, d.LongestReadGapFrom = gap, last
		}
		last = r.done.Time
	}

	// The longest stretch without an ok transfer, per account.
	lastAt := map[int64]time.Duration{}
	gaps := map[int64]AccountGap{}
	end := time.Duration(0)
	for _, op := range h {
		if op.Final {
			break
		}
		end = op.Time
		t, ok := op.Value.(BankTransfer)
		if op.Type != history.OK || op.F != "transfer" || !ok {
			continue
		}
		for _, a := range []int64{t.From, t.To} {
			if g := op.Time - lastAt[a]; g > gaps[a].Gap {
				gaps[a] = AccountGap{Account: a, Gap: g, From: lastAt[a]}
			}
			lastAt[a] = op.Time
		}
	}
	for a := int64(0); a < int64(o.Accounts); a++ {
		if g := end - lastAt[a]; g > gaps[a].Gap {
			gaps[a] = AccountGap{Account: a, Gap: g, From: lastAt[a]}
		}
		d.AccountGaps = append(d.AccountGaps, gaps[a])
	}
	slices.SortStableFunc(d.AccountGaps, func(a, b AccountGap) int { return int(b.Gap - a.Gap) })
	d.Blocked = blockedGaps(h, o, end)

	for _, r := range reads {
		rd, ok := r.done.Value.(BankRead)
		if !ok {
			continue
		}
		d.Reads++
		if r.done.Final {
			d.FinalReads++
		}
		op := r.done
		strict := o.Mode == BankSerializable || op.Final
		bad := func(what, detail string, value any) {
			counts[what]++
			add(Violation{What: what, Node: op.Node, Op: &op, Value: value, Time: op.Time, Detail: detail})
		}
		// The account set.
		if len(rd.Balances) != o.Accounts || len(rd.Ledgers) != o.Accounts {
			bad("wrong accounts", fmt.Sprintf("a read must list exactly accounts 0..%d in balances and ledgers; this one lists %d balances and %d ledgers",
				o.Accounts-1, len(rd.Balances), len(rd.Ledgers)), nil)
			continue
		}
		var total int64
		// net[id] per account: +1 applied, 0 not or compensated.
		applied := map[int64]map[int64]int{} // id -> account -> net
		malformed := false
		for a := int64(0); a < int64(o.Accounts); a++ {
			bal, ok1 := rd.Balances[a]
			led, ok2 := rd.Ledgers[a]
			if !ok1 || !ok2 {
				bad("wrong accounts", fmt.Sprintf("account %d is missing from the read", a), a)
				malformed = true
				break
			}
			total += bal
			if bal < 0 {
				bad("negative balance", fmt.Sprintf("account %d has balance %d: a transfer must abort rather than overdraw its source", a, bal), bal)
			}
			want := o.Opening
			seen := map[int64]bool{}
			for _, e := range led {
				if seen[e] {
					what := "applied twice"
					if e < 0 {
						what = "compensated twice"
					}
					bad(what, fmt.Sprintf("account %d's ledger lists %d twice: each transfer (and each compensation) must take effect once, however often it is retried", a, e), e)
					continue
				}
				seen[e] = true
				id := max(e, -e)
				tx := txns[id]
				if e == 0 || tx == nil || tx.inv > op.Index {
					bad("unknown transfer", fmt.Sprintf("account %d's ledger lists transfer %d, which no client had asked for when the read returned", a, id), e)
					malformed = true
					continue
				}
				if tx.t.From != a && tx.t.To != a {
					bad("wrong account", fmt.Sprintf("account %d's ledger lists transfer %d, which moves money from %d to %d", a, id, tx.t.From, tx.t.To), e)
					malformed = true
					continue
				}
				delta := tx.t.Amount
				if tx.t.From == a {
					delta = -delta
				}
				if e < 0 {
					delta = -delta
				}
				want += delta
				if applied[id] == nil {
					applied[id] = map[int64]int{}
				}
				if e > 0 {
					applied[id][a]++
				} else {
					applied[id][a]--
				}
			}
			if want != bal {
				bad("balance does not match ledger", fmt.Sprintf("account %d has balance %d, but its opening balance %d and the transfers in its ledger make %d", a, bal, o.Opening, want), bal)
				malformed = true
			}
		}
		if malformed {
			continue
		}
		off := total - d.Total
		if off != 0 {
			if strict {
				what := "total not conserved"
				detail := fmt.Sprintf("the balances sum to %d, not %d: money was created or destroyed (a transfer applied on one side only)", total, d.Total)
				if op.Final && o.Mode == BankSaga {
					detail += "; this read came after the quiet period, when every saga should have finished or compensated"
				}
				bad(what, detail, total)
			}
			d.OffReads++
			d.MaxOff = max(d.MaxOff, max(off, -off))
		}
		torn := false
		ids := make([]int64, 0, len(applied))
		for id := range applied {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			tx := txns[id]
			from, to := applied[id][tx.t.From], applied[id][tx.t.To]
			if from != to {
				torn = true
				if strict {
					bad("torn transfer", fmt.Sprintf("transfer %d (%d from %d to %d) is applied to account %d and not to account %d",
						id, tx.t.Amount, tx.t.From, tx.t.To, bankSide(from > to, tx.t.From, tx.t.To), bankSide(from > to, tx.t.To, tx.t.From)), id)
				}
			}
			if from > 0 && to > 0 && tx.status == history.Fail && strict {
				bad("aborted transfer applied", fmt.Sprintf("transfer %d was answered with an abort (%s) yet the read sees it applied", id, bankErrText(h, tx)), id)
			}
		}
		if torn {
			d.TornReads++
		}
		if strict {
			// Every transfer acknowledged before the read began.
			for _, tx := range txns {
				if tx.status != history.OK || tx.done > r.inv.Index {
					continue
				}
				if a := applied[tx.t.ID]; a[tx.t.From] <= 0 || a[tx.t.To] <= 0 {
					bad("acknowledged transfer missing", fmt.Sprintf("transfer %d (%d from %d to %d) was acknowledged at %.3fs, before this read began, but the read does not see it",
						tx.t.ID, tx.t.Amount, tx.t.From, tx.t.To, h[tx.done].Time.Seconds()), tx.t.ID)
				}
			}
		}
	}
	if o.Mode == BankSaga && d.FinalReads == 0 && len(violations) == 0 {
		res.Valid = Unknown
		res.Summary = "no final read succeeded: cannot tell whether the sagas left the total conserved; " + d.String()
		res.Details = d
		return res
	}
	res.Details = d
	if len(violations) > 0 {
		slices.SortStableFunc(violations, func(a, b Violation) int { return int(a.Time - b.Time) })
		res.Valid = Invalid
		res.Violations = violations
		var kinds []string
		for k, n := range counts {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
		}
		slices.Sort(kinds)
		res.Summary = fmt.Sprintf("%s (%s): %s", violations[0].What, strings.Join(kinds, ", "), d)
		return res
	}
	if d.Reads == 0 {
		res.Valid = Unknown
		res.Summary = "no read succeeded: nothing to judge; " + d.String()
		return res
	}
	res.Summary = fmt.Sprintf("%s: every read consistent; %s", o.Mode, d)
	return res
}

func bankSide(c bool, a, b int64) int64 {
	if c {
		return a
	}
	return b
}

func bankErrText(h history.History, tx *bankTxn) string {
	if tx.done >= 0 && h[tx.done].Error != nil {
		return h[tx.done].Error.String()
	}
	return "failed"
}

// blockedGaps is, per account, the longest stretch of the main phase with
// no ok transfer touching it and its owner up throughout.
func blockedGaps(h history.History, o BankOptions, end time.Duration) []AccountGap {
	if len(o.Nodes) == 0 {
		return nil
	}
	down := DownSpans(h, end, false)
	// The ok transfers' times per account.
	times := map[int64][]time.Duration{}
	for _, op := range h {
		if op.Final {
			break
		}
		if t, ok := op.Value.(BankTransfer); ok && op.Type == history.OK && op.F == "transfer" {
			times[t.From] = append(times[t.From], op.Time)
			times[t.To] = append(times[t.To], op.Time)
		}
	}
	var out []AccountGap
	for a := int64(0); a < int64(o.Accounts); a++ {
		owner := o.Nodes[int(a)%len(o.Nodes)]
		best := AccountGap{Account: a}
		prev := time.Duration(0)
		for _, t := range append(times[a], end) {
			// Split [prev, t] by the owner's down intervals.
			from := prev
			for _, iv := range down[owner] {
				if iv.To <= from || iv.From >= t {
					continue
				}
				if g := iv.From - from; g > best.Gap {
					best = AccountGap{Account: a, Gap: g, From: from}
				}
				from = max(from, iv.To)
			}
			if g := t - from; g > best.Gap {
				best = AccountGap{Account: a, Gap: g, From: from}
			}
			prev = t
		}
		out = append(out, best)
	}
	slices.SortStableFunc(out, func(a, b AccountGap) int { return int(b.Gap - a.Gap) })
	return out
}
