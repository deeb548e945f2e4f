package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/clocks"
	"github.com/distsys-curriculum/distsys/internal/node"
)

// hat is a totally available transactional register store: every node
// answers every transaction from its own copy, whatever the network does.
//
// Why it is read-committed: a transaction runs alone (under mu) against
// the local copy and its writes become visible all at once when it ends,
// so no one ever reads a write of a transaction that aborted (none do) or
// a value a transaction overwrote before it ended (no G1a, no G1b). Each
// transaction takes a Lamport time greater than every version it read,
// and a version replaces another only if its (time, node) is greater, so
// every write-write and write-read dependency goes forward in (time,
// node) order and no cycle of them can form (no G0, no G1c). Read-committed
// allows everything else: a read may miss writes that another node has
// not yet shipped, and two reads of one transaction may see different
// transactions' effects.
type hat struct {
	n     *node.Node
	clock clocks.Lamport

	mu    sync.Mutex
	store map[int64]version
	// outbox holds, per peer, the transactions not yet acknowledged by it.
	outbox  map[string]map[uint64]hatEntry
	nextSeq uint64
}

type version struct {
	Value  json.RawMessage
	TS     uint64
	Origin string
}

// newer reports whether v replaces cur.
func (v version) newer(cur version) bool {
	if v.TS != cur.TS {
		return v.TS > cur.TS
	}
	return v.Origin > cur.Origin
}

// hatEntry is one transaction's final writes, as shipped to a peer.
type hatEntry struct {
	Seq    uint64               `json:"seq"`
	TS     uint64               `json:"ts"`
	Origin string               `json:"origin"`
	Writes [][2]json.RawMessage `json:"writes"` // [key, value]
}

// hatBatch is at most this many entries per message.
const hatBatch = 512

func setupHAT(n *node.Node, o Options) {
	h := &hat{n: n, store: map[int64]version{}, outbox: map[string]map[uint64]hatEntry{}}
	node.HandleTyped(n, "txn", h.txn)
	node.HandleTyped(n, "hat_replicate", h.replicate)
	node.HandleTyped(n, "hat_ack", h.ack)
	n.Every(o.Gossip, func(context.Context) { h.flush() })
}

type txnRequest struct {
	Txn [][3]json.RawMessage `json:"txn"`
}

type txnOK struct {
	Type string               `json:"type"`
	Txn  [][3]json.RawMessage `json:"txn"`
}

var null = json.RawMessage("null")

func (h *hat) txn(_ node.Message, req txnRequest) (any, error) {
	type op struct {
		f   string
		key int64
	}
	ops := make([]op, len(req.Txn))
	for i, m := range req.Txn {
		if json.Unmarshal(m[0], &ops[i].f) != nil || json.Unmarshal(m[1], &ops[i].key) != nil || (ops[i].f != "r" && ops[i].f != "w") {
			return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("micro-op %d: want [\"r\"|\"w\", key, value]", i))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([][3]json.RawMessage, len(req.Txn))
	writes := map[int64]json.RawMessage{}
	var order []int64
	var seen uint64
	for i, m := range req.Txn {
		out[i] = m
		k := ops[i].key
		if ops[i].f == "w" {
			if _, ok := writes[k]; !ok {
				order = append(order, k)
			}
			writes[k] = m[2]
			continue
		}
		// A transaction reads its own writes first.
		if v, ok := writes[k]; ok {
			out[i][2] = v
			continue
		}
		if v, ok := h.store[k]; ok {
			out[i][2] = v.Value
			seen = max(seen, v.TS)
		} else {
			out[i][2] = null
		}
	}
	if len(writes) > 0 {
		// After every version this transaction read.
		h.clock.Recv(seen)
		e := hatEntry{TS: h.clock.Tick(), Origin: h.n.ID()}
		for _, k := range order {
			e.Writes = append(e.Writes, [2]json.RawMessage{json.RawMessage(fmt.Sprint(k)), writes[k]})
		}
		h.applyLocked(e)
		h.nextSeq++
		e.Seq = h.nextSeq
		for _, p := range h.n.Peers() {
			if h.outbox[p] == nil {
				h.outbox[p] = map[uint64]hatEntry{}
			}
			h.outbox[p][e.Seq] = e
		}
	}
	return txnOK{Type: "txn_ok", Txn: out}, nil
}

// applyLocked installs an entry's writes where they are newer. It
// requires h.mu.
func (h *hat) applyLocked(e hatEntry) {
	v := version{TS: e.TS, Origin: e.Origin}
	for _, w := range e.Writes {
		var k int64
		if json.Unmarshal(w[0], &k) != nil {
			continue
		}
		v.Value = w[1]
		if cur, ok := h.store[k]; !ok || v.newer(cur) {
			h.store[k] = v
		}
	}
}

type hatReplicate struct {
	Type    string     `json:"type"`
	Entries []hatEntry `json:"entries"`
}

type hatAck struct {
	Type string   `json:"type"`
	Seqs []uint64 `json:"seqs"`
}

// flush sends every peer the entries it has not acknowledged; lost
// messages (a partition) are simply sent again next time.
func (h *hat) flush() {
	h.mu.Lock()
	batches := map[string][]hatEntry{}
	for p, box := range h.outbox {
		for _, e := range box {
			if len(batches[p]) == hatBatch {
				break
			}
			batches[p] = append(batches[p], e)
		}
	}
	h.mu.Unlock()
	for p, b := range batches {
		_ = h.n.Send(p, hatReplicate{Type: "hat_replicate", Entries: b})
	}
}

func (h *hat) replicate(msg node.Message, req hatReplicate) (any, error) {
	h.mu.Lock()
	seqs := make([]uint64, 0, len(req.Entries))
	for _, e := range req.Entries {
		h.clock.Recv(e.TS)
		h.applyLocked(e)
		seqs = append(seqs, e.Seq)
	}
	h.mu.Unlock()
	_ = h.n.Send(msg.Src, hatAck{Type: "hat_ack", Seqs: seqs})
	return nil, nil
}

func (h *hat) ack(msg node.Message, req hatAck) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range req.Seqs {
		delete(h.outbox[msg.Src], s)
	}
	return nil, nil
}
