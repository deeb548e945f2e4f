package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// Three-phase commit puts a round between the votes and the commit: the
// coordinator tells every participant that all voted yes (pre-commit) and
// commits only once all have acknowledged. So while any participant is
// still merely prepared (uncertain), nobody can have committed; and once
// any participant is pre-committed, everybody voted yes. A participant
// that hears nothing for a while needs the coordinator no more: it asks
// the other participants (termination protocol) and decides
//
//   - commit, if any has committed;
//   - abort, if any has aborted or never voted yes;
//   - commit, if any (itself included) is pre-committed;
//   - abort, if all it reached are merely prepared.
//
// Participants it cannot reach are taken to have crashed. Under crash-stop
// failures that is right, and 3PC never blocks. Under a partition it is
// wrong: a pre-committed participant on one side commits while a prepared
// one on the other side aborts (the 3pc-partition counter-example).

type precommitBody struct {
	Type string `json:"type"`
	Tx   string `json:"tx"`
}

// precommit runs the pre-commit round; true when every participant
// acknowledged.
func (t *twoPC) precommit(tx string, parts []string) bool {
	ctx, cancel := context.WithTimeout(t.n.Context(), t.o.PrepareTimeout)
	defer cancel()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == t.n.ID() {
				errs[i] = t.localPrecommit(tx)
				return
			}
			_, errs[i] = node.Call[node.MessageBody](ctx, t.n, p, precommitBody{Type: "tpc_precommit", Tx: tx})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return false
		}
	}
	return true
}

func (t *twoPC) localPrecommit(tx string) error {
	t.mu.Lock()
	p := t.prepared[tx]
	if p == nil || p.terminating {
		t.mu.Unlock()
		return node.NewRPCError(node.Abort, tx+" is not prepared here, or being terminated")
	}
	p.pre = true
	wait := t.write(record{Kind: "precommit", Tx: tx}, true)
	t.mu.Unlock()
	if err := wait(); err != nil {
		return node.NewRPCError(node.Crash, "log: "+err.Error())
	}
	return nil
}

func (t *twoPC) handlePrecommit(_ node.Message, b precommitBody) (any, error) {
	if err := t.localPrecommit(b.Tx); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "tpc_precommit_ok"}, nil
}

type stateOK struct {
	Type  string `json:"type"`
	State string `json:"state"` // unknown, prepared, precommitted, committed, aborted
}

// state is this participant's state for tx. A participant that has never
// voted for tx says so and will now refuse to: the asker may abort on
// that answer.
func (t *twoPC) state(tx string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.prepared[tx]; p != nil {
		if p.pre {
			return "precommitted"
		}
		return "prepared"
	}
	if c, ok := t.finished[tx]; ok {
		if c {
			return "committed"
		}
		return "aborted"
	}
	t.finished[tx] = false
	t.write(record{Kind: "abort", Tx: tx}, false)
	return "unknown"
}

func (t *twoPC) handleState(_ node.Message, b precommitBody) (any, error) {
	t.mu.Lock()
	failed := t.failed
	t.mu.Unlock()
	if failed != nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, "recovering")
	}
	return stateOK{Type: "tpc_state_ok", State: t.state(b.Tx)}, nil
}

// terminate settles tx without its coordinator. One participant decides:
// the first of the transaction's participants (in id order) that this one
// can reach, itself if none before it answers. The others adopt its
// outcome, or wait for it: two participants deciding at once, each on a
// view of the other that the other's decision makes stale, could decide
// differently. A participant that does not answer is taken to have
// crashed; under a partition that is where 3PC goes wrong.
func (t *twoPC) terminate(tx string) {
	defer func() {
		t.mu.Lock()
		if p := t.prepared[tx]; p != nil {
			p.asking = false
		}
		t.mu.Unlock()
	}()
	t.mu.Lock()
	p := t.prepared[tx]
	if p == nil {
		t.mu.Unlock()
		return
	}
	parts := p.parts
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.n.Context(), 300*time.Millisecond)
	defer cancel()
	ask := func(q string) (string, error) {
		resp, err := node.Call[stateOK](ctx, t.n, q, precommitBody{Type: "tpc_state", Tx: tx})
		return resp.State, err
	}
	// Defer to the first participant before us that answers.
	for _, q := range parts {
		if q == t.n.ID() {
			break
		}
		st, err := ask(q)
		if err != nil {
			continue // taken to have crashed
		}
		switch st {
		case "committed", "aborted":
			t.decide(tx, st == "committed", "termination by "+q)
		case "unknown":
			t.decide(tx, false, "termination by "+q)
		}
		// Still undecided there: it decides (it times out too); ask again
		// next time.
		return
	}
	// We decide: first freeze our own state.
	t.mu.Lock()
	if p = t.prepared[tx]; p == nil {
		t.mu.Unlock()
		return
	}
	p.terminating = true
	own := "prepared"
	if p.pre {
		own = "precommitted"
	}
	t.mu.Unlock()
	states := []string{own}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, q := range parts {
		if q == t.n.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := ask(q)
			if err != nil {
				return // unreachable: taken to have crashed
			}
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	has := map[string]bool{}
	for _, s := range states {
		has[s] = true
	}
	var commit bool
	switch {
	case has["committed"]:
		commit = true
	case has["aborted"], has["unknown"]:
		commit = false
	case has["precommitted"]:
		commit = true
	default:
		commit = false
	}
	t.decide(tx, commit, "termination")
	for _, q := range parts {
		if q != t.n.ID() {
			_ = t.n.RPC(q, decideBody{Type: "tpc_decide", Tx: tx, Commit: commit}, func(node.Message) error { return nil })
		}
	}
}
