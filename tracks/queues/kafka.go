package queues

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// Kafka-style logs (Maelstrom's kafka workload, Gossip Glomers 5a-5c):
// each key is an append-only log of integers with offsets 0, 1, 2, ...;
// consumers poll from an offset and commit the offsets they processed.
//
// Three ways to keep the logs:
//   - local (5a): one node, the logs in memory.
//   - kv (5b): any node serves any key; the logs live in Maelstrom's
//     lin-kv service, one value per key holding the whole log, appended
//     with compare-and-set (the offset is the log's length before the
//     append). Committed offsets are lin-kv values raised with
//     compare-and-set.
//   - owned (5c): each key has an owner node (a hash of the key); the owner
//     keeps that key's log in memory and assigns offsets alone, and the
//     other nodes forward requests for the key to it: one round trip
//     between nodes instead of several to lin-kv.

// kafkaPollMax bounds the records one poll returns per key.
const kafkaPollMax = 64

type kafkaSend struct {
	Key string `json:"key"`
	Msg int64  `json:"msg"`
}

type kafkaOffsets struct {
	Offsets map[string]int64 `json:"offsets"`
}

type kafkaKeys struct {
	Keys []string `json:"keys"`
}

type sendOK struct {
	Type   string `json:"type"`
	Offset int64  `json:"offset"`
}

type pollOK struct {
	Type string                `json:"type"`
	Msgs map[string][][2]int64 `json:"msgs"`
}

type offsetsOK struct {
	Type    string           `json:"type"`
	Offsets map[string]int64 `json:"offsets"`
}

// kafkaStore is where one node's kafka requests go.
type kafkaStore interface {
	send(ctx context.Context, key string, msg int64) (int64, error)
	poll(ctx context.Context, from map[string]int64) (map[string][][2]int64, error)
	commit(ctx context.Context, offsets map[string]int64) error
	committed(ctx context.Context, keys []string) (map[string]int64, error)
}

// setupKafka serves the kafka workload on n from store.
func setupKafka(n *node.Node, store kafkaStore, deadline time.Duration) {
	ctxFor := func() (context.Context, context.CancelFunc) { return context.WithTimeout(n.Context(), deadline) }
	node.HandleTyped(n, "send", func(_ node.Message, req kafkaSend) (any, error) {
		ctx, cancel := ctxFor()
		defer cancel()
		off, err := store.send(ctx, req.Key, req.Msg)
		if err != nil {
			return nil, err
		}
		return sendOK{Type: "send_ok", Offset: off}, nil
	})
	node.HandleTyped(n, "poll", func(_ node.Message, req kafkaOffsets) (any, error) {
		ctx, cancel := ctxFor()
		defer cancel()
		msgs, err := store.poll(ctx, req.Offsets)
		if err != nil {
			return nil, err
		}
		return pollOK{Type: "poll_ok", Msgs: msgs}, nil
	})
	node.HandleTyped(n, "commit_offsets", func(_ node.Message, req kafkaOffsets) (any, error) {
		ctx, cancel := ctxFor()
		defer cancel()
		if err := store.commit(ctx, req.Offsets); err != nil {
			return nil, err
		}
		return node.MessageBody{Type: "commit_offsets_ok"}, nil
	})
	node.HandleTyped(n, "list_committed_offsets", func(_ node.Message, req kafkaKeys) (any, error) {
		ctx, cancel := ctxFor()
		defer cancel()
		offs, err := store.committed(ctx, req.Keys)
		if err != nil {
			return nil, err
		}
		return offsetsOK{Type: "list_committed_offsets_ok", Offsets: offs}, nil
	})
}

// memLogs keeps logs and committed offsets in memory (5a, and each
// owner's keys in 5c).
type memLogs struct {
	mu      sync.Mutex
	logs    map[string][]int64
	commits map[string]int64
}

func newMemLogs() *memLogs {
	return &memLogs{logs: map[string][]int64{}, commits: map[string]int64{}}
}

func (m *memLogs) send(_ context.Context, key string, msg int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logs[key] = append(m.logs[key], msg)
	return int64(len(m.logs[key]) - 1), nil
}

func (m *memLogs) poll(_ context.Context, from map[string]int64) (map[string][][2]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][][2]int64{}
	for k, off := range from {
		out[k] = records(m.logs[k], off)
	}
	return out, nil
}

// records returns the log's records from offset off, at most kafkaPollMax.
func records(log []int64, off int64) [][2]int64 {
	out := [][2]int64{}
	for o := max(off, 0); o < int64(len(log)) && len(out) < kafkaPollMax; o++ {
		out = append(out, [2]int64{o, log[o]})
	}
	return out
}

func (m *memLogs) commit(_ context.Context, offsets map[string]int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, o := range offsets {
		if cur, ok := m.commits[k]; !ok || o > cur {
			m.commits[k] = o
		}
	}
	return nil
}

func (m *memLogs) committed(_ context.Context, keys []string) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for _, k := range keys {
		if o, ok := m.commits[k]; ok {
			out[k] = o
		}
	}
	return out, nil
}

// kvLogs keeps everything in lin-kv (5b).
type kvLogs struct{ kv *node.KV }

func logKey(k string) string    { return "log/" + k }
func commitKey(k string) string { return "commit/" + k }

func (s kvLogs) read(ctx context.Context, key string) ([]int64, bool, error) {
	var log []int64
	err := s.kv.ReadInto(ctx, key, &log)
	if node.ErrorCode(err) == node.KeyDoesNotExist {
		return nil, false, nil
	}
	return log, err == nil, err
}

func (s kvLogs) send(ctx context.Context, key string, msg int64) (int64, error) {
	for {
		log, exists, err := s.read(ctx, logKey(key))
		if err != nil {
			return 0, err
		}
		var from any = log
		if !exists {
			from = []int64{}
		}
		next := append(append(make([]int64, 0, len(log)+1), log...), msg)
		err = s.kv.CompareAndSwap(ctx, logKey(key), from, next, !exists)
		switch code := node.ErrorCode(err); {
		case err == nil:
			return int64(len(log)), nil
		case code == node.PreconditionFailed || code == node.KeyDoesNotExist:
			continue // another append won: read the log again
		case ctx.Err() != nil:
			return 0, node.NewRPCError(node.Timeout, "send: the append may or may not have happened")
		default:
			return 0, err
		}
	}
}

func (s kvLogs) poll(ctx context.Context, from map[string]int64) (map[string][][2]int64, error) {
	out := map[string][][2]int64{}
	for k, off := range from {
		log, _, err := s.read(ctx, logKey(k))
		if err != nil {
			return nil, err
		}
		out[k] = records(log, off)
	}
	return out, nil
}

func (s kvLogs) commit(ctx context.Context, offsets map[string]int64) error {
	return KVOffsets{s.kv}.Commit(ctx, offsets)
}

func (s kvLogs) committed(ctx context.Context, keys []string) (map[string]int64, error) {
	return KVOffsets{s.kv}.Committed(ctx, keys)
}

// KVOffsets keeps kafka consumers' committed offsets in a key-value service
// (lin-kv), one key per log ("commit/<key>"). The logger track's
// replicated log keeps its offsets the same way.
type KVOffsets struct{ KV *node.KV }

// Commit raises each key's committed offset by compare-and-set; it never
// lowers one.
func (s KVOffsets) Commit(ctx context.Context, offsets map[string]int64) error {
	for k, o := range offsets {
		for {
			var cur int64
			err := s.KV.ReadInto(ctx, commitKey(k), &cur)
			missing := node.ErrorCode(err) == node.KeyDoesNotExist
			if err != nil && !missing {
				return err
			}
			if !missing && cur >= o {
				break
			}
			err = s.KV.CompareAndSwap(ctx, commitKey(k), cur, o, missing)
			if err == nil {
				break
			}
			if c := node.ErrorCode(err); c != node.PreconditionFailed && c != node.KeyDoesNotExist {
				return err
			}
		}
	}
	return nil
}

// Committed returns the committed offsets of keys (keys without one are
// left out).
func (s KVOffsets) Committed(ctx context.Context, keys []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, k := range keys {
		var o int64
		err := s.KV.ReadInto(ctx, commitKey(k), &o)
		switch {
		case err == nil:
			out[k] = o
		case node.ErrorCode(err) != node.KeyDoesNotExist:
			return nil, err
		}
	}
	return out, nil
}

// ownedLogs routes each key to its owner (5c): local keys go to mine,
// others are forwarded as the same request types, which the owner serves
// from its own memLogs.
type ownedLogs struct {
	n    *node.Node
	mine *memLogs
}

func (s ownedLogs) owner(key string) string {
	ids := s.n.NodeIDs()
	h := fnv.New32a()
	h.Write([]byte(key))
	return ids[int(h.Sum32())%len(ids)]
}

// split groups keys by owner.
func split[V any](s ownedLogs, m map[string]V) map[string]map[string]V {
	out := map[string]map[string]V{}
	for k, v := range m {
		o := s.owner(k)
		if out[o] == nil {
			out[o] = map[string]V{}
		}
		out[o][k] = v
	}
	return out
}

func (s ownedLogs) send(ctx context.Context, key string, msg int64) (int64, error) {
	o := s.owner(key)
	if o == s.n.ID() {
		return s.mine.send(ctx, key, msg)
	}
	resp, err := node.Call[sendOK](ctx, s.n, o, map[string]any{"type": "send", "key": key, "msg": msg})
	if err != nil {
		return 0, forwardErr(o, err)
	}
	return resp.Offset, nil
}

// forwardErr passes on the owner's definite refusals; anything else (a
// timeout, no answer) leaves the outcome unknown.
func forwardErr(owner string, err error) error {
	var rpc *node.RPCError
	if errors.As(err, &rpc) && node.IsDefinite(rpc.Code) {
		return err
	}
	return node.NewRPCError(node.Timeout, fmt.Sprintf("forwarded to %s: %v", owner, err))
}

// fanOut runs fn for each owner's share in parallel and merges the maps.
func fanOut[V, R any](ctx context.Context, s ownedLogs, in map[string]V,
	local func(map[string]V) (map[string]R, error), remote func(ctx context.Context, owner string, part map[string]V) (map[string]R, error)) (map[string]R, error) {
	parts := split(s, in)
	out := map[string]R{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for owner, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r map[string]R
			var err error
			if owner == s.n.ID() {
				r, err = local(part)
			} else {
				r, err = remote(ctx, owner, part)
				if err != nil {
					err = forwardErr(owner, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			maps.Copy(out, r)
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (s ownedLogs) poll(ctx context.Context, from map[string]int64) (map[string][][2]int64, error) {
	return fanOut(ctx, s, from,
		func(p map[string]int64) (map[string][][2]int64, error) { return s.mine.poll(ctx, p) },
		func(ctx context.Context, o string, p map[string]int64) (map[string][][2]int64, error) {
			resp, err := node.Call[pollOK](ctx, s.n, o, map[string]any{"type": "poll", "offsets": p})
			return resp.Msgs, err
		})
}

func (s ownedLogs) commit(ctx context.Context, offsets map[string]int64) error {
	_, err := fanOut(ctx, s, offsets,
		func(p map[string]int64) (map[string]struct{}, error) { return nil, s.mine.commit(ctx, p) },
		func(ctx context.Context, o string, p map[string]int64) (map[string]struct{}, error) {
			_, err := s.n.SyncRPC(ctx, o, map[string]any{"type": "commit_offsets", "offsets": p})
			return nil, err
		})
	return err
}

func (s ownedLogs) committed(ctx context.Context, keys []string) (map[string]int64, error) {
	in := map[string]bool{}
	for _, k := range keys {
		in[k] = true
	}
	return fanOut(ctx, s, in,
		func(p map[string]bool) (map[string]int64, error) {
			return s.mine.committed(ctx, mapKeys(p))
		},
		func(ctx context.Context, o string, p map[string]bool) (map[string]int64, error) {
			resp, err := node.Call[offsetsOK](ctx, s.n, o, map[string]any{"type": "list_committed_offsets", "keys": mapKeys(p)})
			return resp.Offsets, err
		})
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
