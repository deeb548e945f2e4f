package counter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/crdt"
	"github.com/distsys-curriculum/distsys/internal/node"
)

// gossiper runs a replica on a node: client operations touch only the
// local state, and every gossip interval each peer is sent what it may
// lack. Nothing waits on a peer, so clients are answered even from the
// minority side of a partition; the price is that a read may not yet
// count adds made on other nodes.
type gossiper[T any, S State[T]] struct {
	n    *node.Node
	full bool

	mu sync.Mutex
	r  *replica[T, S]
}

// replicateMsg carries a state between nodes. With a msg_id (delta mode)
// it asks for a replicate_ok, which tells the sender the peer merged it.
type replicateMsg[S any] struct {
	Type  string `json:"type"`
	State S      `json:"state"`
}

func newGossiper[T any, S State[T]](n *node.Node, c Config) *gossiper[T, S] {
	g := &gossiper[T, S]{n: n, full: c.FullState, r: newReplica[T, S]()}
	n.Handle("replicate", g.handleReplicate)
	n.Every(c.GossipInterval, g.round)
	return g
}

// update applies a local change.
func (g *gossiper[T, S]) update(fn func(S)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn(g.r.state)
}

// view reads the local state.
func (g *gossiper[T, S]) view(fn func(S) any) any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fn(g.r.state)
}

// round sends each peer its share. Delta messages are resent every round
// until acknowledged; during a partition they are dropped and the next
// round carries them again (grown by whatever happened meanwhile), so a
// heal is repaired within one interval plus a round trip.
func (g *gossiper[T, S]) round(context.Context) {
	for _, peer := range g.n.Peers() {
		g.mu.Lock()
		out, ok := g.r.outgoing(peer, g.full)
		g.mu.Unlock()
		if !ok {
			continue
		}
		body := replicateMsg[S]{Type: "replicate", State: out}
		var err error
		if g.full {
			err = g.n.Send(peer, body)
		} else {
			err = g.n.RPC(peer, body, func(m node.Message) error {
				if m.Type() != "replicate_ok" {
					return nil
				}
				g.mu.Lock()
				g.r.acked(m.Src, out)
				g.mu.Unlock()
				return nil
			})
		}
		if err != nil {
			g.n.Logger().Debug("gossip not sent", "peer", peer, "err", err)
		}
	}
}

func (g *gossiper[T, S]) handleReplicate(msg node.Message) error {
	var body struct {
		MsgID int             `json:"msg_id"`
		State json.RawMessage `json:"state"`
	}
	s := S(new(T))
	if err := json.Unmarshal(msg.Body, &body); err != nil {
		return node.NewRPCError(node.MalformedRequest, fmt.Sprintf("replicate body: %v", err))
	}
	if err := json.Unmarshal(body.State, s); err != nil {
		return node.NewRPCError(node.MalformedRequest, fmt.Sprintf("replicate state: %v", err))
	}
	g.mu.Lock()
	g.r.receive(msg.Src, s)
	g.mu.Unlock()
	if body.MsgID == 0 {
		return nil
	}
	return g.n.Reply(msg, struct {
		Type string `json:"type"`
	}{"replicate_ok"})
}

func setupGCounter(n *node.Node, c Config) {
	g := newGossiper[crdt.GCounter](n, c)
	node.HandleTyped(n, "add", func(_ node.Message, req addReq) (any, error) {
		if req.Delta < 0 {
			return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("a grow-only counter cannot add %d", req.Delta))
		}
		g.update(func(s *crdt.GCounter) { s.Increment(n.ID(), uint64(req.Delta)) })
		return addOK{Type: "add_ok"}, nil
	})
	node.HandleTyped(n, "read", func(node.Message, struct{}) (any, error) {
		return g.view(func(s *crdt.GCounter) any { return readOK[uint64]{Type: "read_ok", Value: s.Value()} }), nil
	})
}

func setupPNCounter(n *node.Node, c Config) {
	g := newGossiper[crdt.PNCounter](n, c)
	node.HandleTyped(n, "add", func(_ node.Message, req addReq) (any, error) {
		g.update(func(s *crdt.PNCounter) { s.Increment(n.ID(), req.Delta) })
		return addOK{Type: "add_ok"}, nil
	})
	node.HandleTyped(n, "read", func(node.Message, struct{}) (any, error) {
		return g.view(func(s *crdt.PNCounter) any { return readOK[int64]{Type: "read_ok", Value: s.Value()} }), nil
	})
}

func setupGSet(n *node.Node, c Config) {
	g := newGossiper[crdt.GSet[int64]](n, c)
	node.HandleTyped(n, "add", func(_ node.Message, req struct {
		Element int64 `json:"element"`
	}) (any, error) {
		g.update(func(s *crdt.GSet[int64]) { s.Add(req.Element) })
		return addOK{Type: "add_ok"}, nil
	})
	node.HandleTyped(n, "read", func(node.Message, struct{}) (any, error) {
		return g.view(func(s *crdt.GSet[int64]) any {
			elems := s.Elements()
			if elems == nil {
				elems = []int64{} // an empty set is [], never null
			}
			return readOK[[]int64]{Type: "read_ok", Value: elems}
		}), nil
	})
}
