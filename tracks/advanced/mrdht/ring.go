package mrdht

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// DHT is what the capstone needs of a distributed hash table: who owns a
// key (its replicas' nodes, to schedule near them), a replicated put, and
// reads from this node's own copy or from any owner.
type DHT interface {
	Owners(key string) []string
	Put(ctx context.Context, key string, value []byte) error
	GetLocal(key string) ([]byte, bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Ring places keys by consistent hashing: each node has vnodes points on
// a 64-bit ring, a key's owners are the first r distinct nodes clockwise
// from its hash. Each owner keeps its copies in its data directory, so a
// killed node has them again when it restarts. Membership is the
// cluster's node list, fixed for a run: no joins or leaves, no routing
// (every node computes every key's owners itself).
type Ring struct {
	n      *node.Node
	r      int
	vnodes int
	// volatile keeps copies in memory only (the counter-example): a
	// killed node comes back without them.
	volatile bool

	once   sync.Once
	points []ringPoint // sorted by hash

	mu    sync.Mutex
	cache map[string][]byte
}

type ringPoint struct {
	hash uint64
	node string
}

// NewRing serves dht_put and dht_get on n with r replicas per key,
// durable unless volatile.
func NewRing(n *node.Node, r, vnodes int, volatile bool) *Ring {
	g := &Ring{n: n, r: r, vnodes: vnodes, volatile: volatile, cache: map[string][]byte{}}
	node.HandleTyped(n, "dht_put", g.handlePut)
	node.HandleTyped(n, "dht_get", g.handleGet)
	return g
}

// hash64 places names on the ring. FNV alone would do badly here: keys
// that differ in their last bytes ("doc-1-0", "doc-1-1") land close
// together, so one node would own most of a job's splits.
func hash64(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

// ringPoints puts vnodes points per node on the ring, sorted.
func ringPoints(ids []string, vnodes int) []ringPoint {
	var points []ringPoint
	for _, id := range ids {
		for v := range vnodes {
			points = append(points, ringPoint{hash64(id + "#" + strconv.Itoa(v)), id})
		}
	}
	slices.SortFunc(points, func(a, b ringPoint) int { return cmp.Compare(a.hash, b.hash) })
	return points
}

func (g *Ring) build() {
	g.once.Do(func() { g.points = ringPoints(g.n.NodeIDs(), g.vnodes) })
}

// Owners are the nodes holding key's replicas, the first first.
func (g *Ring) Owners(key string) []string {
	g.build()
	h := hash64(key)
	i, _ := slices.BinarySearchFunc(g.points, h, func(p ringPoint, h uint64) int { return cmp.Compare(p.hash, h) })
	var out []string
	for j := 0; j < len(g.points) && len(out) < g.r; j++ {
		p := g.points[(i+j)%len(g.points)]
		if !slices.Contains(out, p.node) {
			out = append(out, p.node)
		}
	}
	return out
}

func (g *Ring) path(key string) string {
	sum := fnv.New128a()
	sum.Write([]byte(key))
	return filepath.Join(g.n.DataDir(), "dht", hex.EncodeToString(sum.Sum(nil)))
}

// store keeps a copy on this node, durably.
func (g *Ring) store(key string, value []byte) error {
	if dir := g.n.DataDir(); dir != "" && !g.volatile {
		if err := g.n.Storage().MkdirAll(filepath.Join(dir, "dht"), 0o755); err != nil {
			return err
		}
		if err := storage.WriteFileAtomic(g.n.Storage(), g.path(key), value, 0o644); err != nil {
			return err
		}
	}
	g.mu.Lock()
	g.cache[key] = value
	g.mu.Unlock()
	return nil
}

// GetLocal reads this node's copy of key.
func (g *Ring) GetLocal(key string) ([]byte, bool, error) {
	g.mu.Lock()
	v, ok := g.cache[key]
	g.mu.Unlock()
	if ok || g.n.DataDir() == "" || g.volatile {
		return v, ok, nil
	}
	b, err := storage.ReadFile(g.n.Storage(), g.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	g.mu.Lock()
	g.cache[key] = b
	g.mu.Unlock()
	return b, true, nil
}

// Put writes key on its owners and returns once a majority of them has
// it: with r = 3 one dead owner does not stop a put, and any later read
// that asks every owner finds it.
func (g *Ring) Put(ctx context.Context, key string, value []byte) error {
	owners := g.Owners(key)
	need := len(owners)/2 + 1
	errs := make(chan error, len(owners))
	for _, o := range owners {
		go func() {
			if o == g.n.ID() {
				errs <- g.store(key, value)
				return
			}
			_, err := g.n.SyncRPC(ctx, o, map[string]any{"type": "dht_put", "key": key, "value": string(value)})
			errs <- err
		}()
	}
	ok, failed := 0, 0
	var last error
	for range owners {
		if err := <-errs; err != nil {
			failed++
			last = err
		} else {
			ok++
		}
		if ok >= need {
			return nil
		}
		if failed > len(owners)-need {
			break
		}
	}
	return fmt.Errorf("dht: put %s: %d of %d owners: %w", key, ok, len(owners), last)
}

// Get reads key from this node's copy, else from its owners in order.
func (g *Ring) Get(ctx context.Context, key string) ([]byte, error) {
	if v, ok, err := g.GetLocal(key); err == nil && ok {
		return v, nil
	}
	var last error = fmt.Errorf("dht: %s has no owner", key)
	for _, o := range g.Owners(key) {
		if o == g.n.ID() {
			continue
		}
		r, err := node.Call[struct {
			Value string `json:"value"`
		}](ctx, g.n, o, map[string]any{"type": "dht_get", "key": key})
		if err == nil {
			return []byte(r.Value), nil
		}
		last = err
	}
	return nil, last
}

func (g *Ring) handlePut(_ node.Message, req struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}) (any, error) {
	if err := g.store(req.Key, []byte(req.Value)); err != nil {
		return nil, node.NewRPCError(node.Crash, err.Error())
	}
	return map[string]any{"type": "dht_put_ok"}, nil
}

func (g *Ring) handleGet(_ node.Message, req struct {
	Key string `json:"key"`
}) (any, error) {
	v, ok, err := g.GetLocal(req.Key)
	if err != nil {
		return nil, node.NewRPCError(node.Crash, err.Error())
	}
	if !ok {
		return nil, node.NewRPCError(node.KeyDoesNotExist, "no copy of "+req.Key+" here")
	}
	return map[string]any{"type": "dht_get_ok", "value": string(v)}, nil
}
