package counter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// totalKey is the seq-kv key holding the counter's total.
const totalKey = "counter"

// opTimeout bounds one client operation's work, below the client's own
// 5 s timeout so a node does not keep working for a caller who gave up.
const opTimeout = 4 * time.Second

type addReq struct {
	Delta int64 `json:"delta"`
}

type addOK struct {
	Type string `json:"type"`
}

type readOK[V any] struct {
	Type  string `json:"type"`
	Value V      `json:"value"`
}

// kvCounter keeps the counter in seq-kv, shared by every node.
type kvCounter struct {
	n  *node.Node
	kv *node.KV

	mu      sync.Mutex
	syncSeq int // last value this node wrote to its sync key
}

func setupKV(n *node.Node, stage string) {
	k := &kvCounter{n: n, kv: node.NewKV(n, node.SeqKV)}
	add, read := k.casAdd, k.currentTotal
	switch stage {
	case "naive":
		add = k.naiveAdd
	case "cas-stale":
		read = k.total
	}
	node.HandleTyped(n, "add", func(_ node.Message, req addReq) (any, error) {
		ctx, cancel := context.WithTimeout(n.Context(), opTimeout)
		defer cancel()
		if err := add(ctx, req.Delta); err != nil {
			return nil, indefinite("add", err)
		}
		return addOK{Type: "add_ok"}, nil
	})
	node.HandleTyped(n, "read", func(node.Message, struct{}) (any, error) {
		ctx, cancel := context.WithTimeout(n.Context(), opTimeout)
		defer cancel()
		v, err := read(ctx)
		if err != nil {
			return nil, indefinite("read", err)
		}
		return readOK[int64]{Type: "read_ok", Value: v}, nil
	})
}

// naiveAdd is the lost update, written out: between this node's read and
// its write another node may write, and this write then erases that one.
// seq-kv makes it worse, as the read itself may return an old total.
func (k *kvCounter) naiveAdd(ctx context.Context, delta int64) error {
	v, err := k.total(ctx)
	if err != nil {
		return err
	}
	return k.kv.Write(ctx, totalKey, v+delta)
}

// casAdd writes total+delta only if the total is still what was read, and
// otherwise reads again and retries. Only a definite "precondition failed"
// is retried: after a timeout the compare-and-set may have happened, and
// retrying it would count the delta twice.
func (k *kvCounter) casAdd(ctx context.Context, delta int64) error {
	if delta == 0 {
		// Nothing to add. Skipping the write also keeps every state
		// change of the total a real change, which a reader relies on.
		return nil
	}
	for {
		v, err := k.total(ctx)
		if err != nil {
			return err
		}
		// create_if_not_exists: the first add creates the key. A node that
		// wrongly saw no key while one exists is told so by seq-kv, which
		// re-runs every state-changing request against its newest state.
		err = k.kv.CompareAndSwap(ctx, totalKey, v, v+delta, true)
		if err == nil {
			return nil
		}
		if node.ErrorCode(err) != node.PreconditionFailed {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// total reads the total as this node's view of seq-kv has it, which may be
// any state from the newest this node has observed up to the newest there
// is: possibly stale. A missing key is a total of 0.
func (k *kvCounter) total(ctx context.Context) (int64, error) {
	v, err := k.kv.ReadInt(ctx, totalKey)
	if node.ErrorCode(err) == node.KeyDoesNotExist {
		return 0, nil
	}
	return int64(v), err
}

// currentTotal reads a total that includes every add acknowledged before
// the call. seq-kv answers a request that changes nothing (a read, a
// failed or no-op compare-and-set) from a possibly old state, but applies a
// change to its newest state and moves this node's view there. So a write
// of a value never written before to a key of this node's own drags the
// node's view up to the newest state, and the read that follows cannot be
// older than that.
func (k *kvCounter) currentTotal(ctx context.Context) (int64, error) {
	k.mu.Lock()
	k.syncSeq++
	seq := k.syncSeq
	k.mu.Unlock()
	if err := k.kv.Write(ctx, "sync-"+k.n.ID(), seq); err != nil {
		return 0, err
	}
	return k.total(ctx)
}

// indefinite wraps a failure as error 13 (crash): the operation may or may
// not have taken effect, which is the truth after a timeout mid-way.
func indefinite(op string, err error) error {
	return node.NewRPCError(node.Crash, fmt.Sprintf("%s: %v", op, err))
}
